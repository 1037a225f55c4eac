# DINO on the demo backbone (a leaf takes one from a *_demo.py backbone base): Deformable DETR's
# sizes (configs/_base_/models/deformable-detr_demo.py) with DINO's queries: 300 matching queries
# and up to 60 contrastive denoising queries.
_base_ = ['./deformable-detr_demo.py']
model = dict(
    bbox_head=dict(
        type='DINOHead',
        pe_temperature=20.0,
        num_dn_queries=60,
        label_noise_scale=0.5,
        box_noise_scale=1.0,
        loss_cls=dict(type='FocalLoss', alpha=0.25, gamma=2.0, loss_weight=1.0)))

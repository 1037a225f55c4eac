# Deformable DETR (box refinement, two-stage) on ViT-B/16 with ViTDet's simple feature pyramid
# (p3-p6), COCO's 80 classes, the paper's sizes: 300 queries, 6 + 6 layers.
_base_ = ['./vit-b-abs_simplefpn.py']
model = dict(
    bbox_head=dict(
        type='DeformableDETRHead',
        num_classes=80,
        in_features=('p3', 'p4', 'p5', 'p6'),
        embed_dims=256,
        num_queries=300,
        num_encoder_layers=6,
        num_decoder_layers=6,
        ffn_dims=1024,
        dropout=0.1,
        matcher=dict(type='HungarianMatcher', cost_class=2.0, cost_bbox=5.0, cost_giou=2.0,
                     class_cost_type='focal'),
        loss_cls=dict(type='FocalLoss', alpha=0.25, gamma=2.0, loss_weight=2.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_giou=dict(type='GIoULoss', loss_weight=2.0)))

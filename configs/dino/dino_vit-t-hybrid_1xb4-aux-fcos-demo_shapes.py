# DINO with Co-DETR's auxiliary dense head (Zong et al. 2023, "DETRs with Collaborative Hybrid
# Assignments Training", arXiv 2211.12860; the auxiliary head only, without its customized
# positive queries): an FCOS head, the demo detector's, trained on the encoder's output maps,
# supervises every token near a box where the one-to-one matching supervises one query per box.
# At test time it is dropped: the predictions are DINO's (no NMS). With it the backbone and neck
# learn at FCOS's rate (2e-3) and the transformer at a quarter of it; without the dense loss,
# that split stayed at mAP 0.001 after 400 iterations (docs/benchmarks.md, issue 9's second
# round).
_base_ = ['./dino_vit-t-hybrid_1xb4-demo_shapes.py']
model = dict(bbox_head=dict(aux_head=dict(type='FCOSHead', feat_channels=96, stacked_convs=2)))
optim_wrapper = dict(
    optimizer=dict(lr=2e-3),
    paramwise_cfg=dict(custom_keys={
        'bbox_head': dict(lr_mult=0.25),
        'bbox_head.aux_head': dict(lr_mult=1.0)
    }))

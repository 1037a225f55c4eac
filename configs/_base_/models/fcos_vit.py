# FCOS on a plain ViT-B/16 with ViTDet's simple feature pyramid (p3-p6).
_base_ = ['./vit-b-abs_simplefpn.py']
model = dict(
    bbox_head=dict(
        type='FCOSHead',
        num_classes=80,
        in_features=('p3', 'p4', 'p5', 'p6'),
        feat_channels=256,
        stacked_convs=4,
        loss_cls=dict(type='FocalLoss', alpha=0.25, gamma=2.0, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        score_thr=0.05,
        nms_iou_thr=0.6,
        max_per_img=100))

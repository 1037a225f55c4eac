# FCOS on a plain ViT-B/16 with ViTDet's simple feature pyramid (p3-p6).
model = dict(
    type='Detector',
    data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=64),
    backbone=dict(
        type='ViT',
        arch='base',
        img_size=(1024, 1024),
        patch_size=16,
        pos_embed=dict(type='LearnedAbsolutePE'),
        drop_path_rate=0.1,
        out_indices=(-1, )),
    neck=dict(
        type='SimpleFPN',
        in_feature='p4',
        out_channels=256,
        scale_factors=(2.0, 1.0, 0.5),
        top_block=True),
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

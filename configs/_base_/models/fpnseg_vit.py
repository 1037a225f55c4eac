# A plain ViT-B/16, ViTDet's simple feature pyramid and a light fusing decoder.
model = dict(
    type='Segmentor',
    data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32),
    backbone=dict(
        type='ViT',
        arch='base',
        img_size=(512, 512),
        patch_size=16,
        pos_embed=dict(type='LearnedAbsolutePE'),
        drop_path_rate=0.1,
        out_indices=(-1, )),
    neck=dict(
        type='SimpleFPN',
        in_feature='p4',
        out_channels=256,
        scale_factors=(4.0, 2.0, 1.0, 0.5)),
    decode_head=dict(
        type='FPNFuseHead',
        num_classes=150,
        channels=256,
        dropout=0.1),
    test_mode='whole')

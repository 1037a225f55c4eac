# A detector skeleton for COCO without its head: ViT-B/16 with a learned absolute PE at 1024 px
# and ViTDet's simple feature pyramid (p3-p6). The method bases (fcos_vit.py, detr_vit.py,
# deformable-detr_vit.py, dino_vit.py) inherit it and add `bbox_head`.
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
        top_block=True))

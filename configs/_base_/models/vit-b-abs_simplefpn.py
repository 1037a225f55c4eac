# ViT-B/16 with a learned absolute PE at 1024 px and ViTDet's simple feature pyramid (p3-p6),
# as variables the COCO detector bases take: `backbone`, `neck`, `data_preprocessor`.
data_preprocessor = dict(type='DenseDataPreprocessor', pad_size_divisor=64)
backbone = dict(
    type='ViT',
    arch='base',
    img_size=(1024, 1024),
    patch_size=16,
    pos_embed=dict(type='LearnedAbsolutePE'),
    drop_path_rate=0.1,
    out_indices=(-1, ))
neck = dict(
    type='SimpleFPN',
    in_feature='p4',
    out_channels=256,
    scale_factors=(2.0, 1.0, 0.5),
    top_block=True)

# The `make demo` segmentor without its backbone (a leaf takes one from a *_demo.py backbone
# base): a 96-wide simple feature pyramid (p2-p5) that adds the backbone's stride-4 and stride-8
# maps p2, p3 (a hybrid or CNN stem's) through laterals, and the fusing decoder over the 9 shapes
# classes (background included).
model = dict(
    type='Segmentor',
    data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32),
    neck=dict(
        type='SimpleFPN',
        in_feature='p4',
        out_channels=96,
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        lateral_features=('p2', 'p3')),
    # Background is ~90 % of the pixels: at weight 1 the decoder predicts it everywhere for
    # hundreds of iterations (mIoU_fg 1.0 after 200); at 0.2, 4.4 (docs/benchmarks.md).
    decode_head=dict(
        type='FPNFuseHead', num_classes=9, channels=96, dropout=0.1,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True,
                         class_weight=[0.2] + [1.0] * 8)),
    test_mode='whole')

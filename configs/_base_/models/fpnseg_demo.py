# The `make demo` segmentor without its backbone (a leaf takes one from a *_demo.py backbone
# base): a 96-wide simple feature pyramid (p2-p5) that adds the backbone's stride-4 and stride-8
# maps p2, p3 (a hybrid or CNN stem's) through laterals, and the fusing decoder over the 9 shapes
# classes (background included, weighted as configs/_base_/models/segmentor_demo.py says).
_base_ = ['./segmentor_demo.py']
model = dict(
    neck=dict(
        type='SimpleFPN',
        in_feature='p4',
        out_channels=96,
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        lateral_features=('p2', 'p3')),
    decode_head=dict(type='FPNFuseHead', channels=96, dropout=0.1))

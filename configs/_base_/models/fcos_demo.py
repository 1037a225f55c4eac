# The `make demo` detector without its backbone (a leaf takes one from a *_demo.py backbone
# base): FCOS sized for the 8 shapes at 320 px, a 96-wide simple feature pyramid (p3-p6) that
# adds the backbone's stride-8 map p3 (a hybrid or CNN stem's) through a lateral, a 2-conv head.
_base_ = ['./detector_demo.py']
model = dict(
    bbox_head=dict(type='FCOSHead', num_classes=8, feat_channels=96, stacked_convs=2))

# The demo detector as it was before issue 8's ninth round (fcos_vit-t-hybrid_1xb4-demo_shapes.py
# at 320 px for 600 iterations, as measured here) with a semantic head: an FCN head
# (one 3x3 conv of 96, BN) on the neck's stride-8 level p3 learns shapes' label maps (9 classes,
# background weighted 0.2 as in the demo segmentor) beside FCOS, for its gradient on the shared
# backbone and neck only (HTC's semantic branch; dropped at test time, so the predictions are
# FCOS's). Measured against the demo detector, one thread each, 600 iterations (docs/
# benchmarks.md, issue 8's ninth round): mAP 0.124 against 0.125 for a ~1.15x dearer step, and
# the demo's frozen SETR-MLA segmentor from its backbone 20.76 mIoU against 20.62: no gain, so
# the demo keeps the plain detector. Kept to show how a detector learns label maps beside boxes.
_base_ = ['./fcos_vit-t-hybrid_1xb4-demo_shapes.py']
train_cfg = dict(max_iters={{_base_.detector_iters}})
model = dict(semantic_head=dict(
    type='FCNHead', in_features=('p3', ), num_classes=9, channels=96, num_convs=1,
    concat_input=False, norm='BN', dropout=0.0,
    loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.2] + [1.0] * 8)))
# The label maps: shapes' annotations/training/*.png, named like the images, read beside the
# boxes and moved with them by every transform (copy-paste pastes their pixels too).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_instance_map=True, with_seg=True),
    dict(type='RandomResize', scale={{_base_.image_size}}, ratio_range=(0.75, 1.25),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.image_size}}),
    dict(type='RandomFlip', prob=0.5),
    dict(type='CopyPaste', max_num_pasted=10, max_cached_images=20),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(
    pipeline=train_pipeline, data_prefix=dict(img='train/', seg='annotations/training/')))

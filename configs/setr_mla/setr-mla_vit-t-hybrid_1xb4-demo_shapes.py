# `make demo`, job 3: SETR-MLA (blocks 1, 3, 5) on the demo's hybrid ViT-Tiny, fine-tuned on the
# built-in shapes dataset (9 classes, background learned) in minutes on a CPU, from the backbone
# of the demo detector (configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py: `make demo` trains it
# first; or python tools/train.py configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py --amp,
# then the detector config).
# The backbone is frozen (frozen_stages='all': stem, its BatchNorm statistics, all 6 blocks and
# the output norms; in the segmentor's few minutes it learns little its decoder can use). Of the
# decoders on that recipe, SETR-MLA learns the most per minute: it reads the stride-16 blocks and
# upsamples once, where FPN-fuse pays for a stride-4 pyramid level, so its step is ~2x cheaper
# (0.21 vs 0.42 s on 2 threads) and the demo's minutes buy twice the iterations. Equal minutes:
# mIoU 23.92 / mIoU_fg 15.31 after 1,300 iterations against FPN-fuse's 19.32 / 10.13 after 650;
# seed 1: 22.39 / 13.61 against 19.79 / 10.67 (docs/benchmarks.md, issue 8's seventh round).
_base_ = [
    '../_base_/models/setr-mla_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/shapes_segmentation.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone=dict(_base_.detector_backbone, out_indices=(1, 3, 5), frozen_stages='all'))
train_cfg = dict(max_iters={{_base_.demo_segmentor_iters}})
# Trained on 256 px crops, tested at 320 like the other shapes segmentors: the frozen forward is
# most of the step and shrinks with the tokens, so 1,900 iterations take the minutes of 1,300 at
# 320 px and reach mIoU 26.97 / 27.21 against 25.82 / 25.41 (seeds 0 / 1; docs/benchmarks.md,
# issue 8's ninth round).
train_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
    dict(type='RandomResize', scale=train_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=train_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Its data loaded in the training process: with a frozen backbone the step is cheap, and a
# loader worker on the same two cores slowed the frozen FPN-fuse segmentor 1.17x
# (docs/benchmarks.md, issue 8's sixth round).
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))

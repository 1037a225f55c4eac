# The built-in `shapes` dataset in the ADE20K layout. Unlike ADE20K (0 = "other", ignored through
# reduce_zero_label), label 0 is background, a class learned and scored like the 8 shapes, as in
# Pascal VOC: 9 classes, ShapesSegDataset's default metainfo (with background_index=0, and
# reduce_zero_label=False by default). mIoU averages all 9; mIoU_fg the 8 shapes. Drawings leave
# background transparent.
dataset_type = 'ShapesSegDataset'
data_root = 'data/shapes/'
crop_size = (320, 320)  # square: the resize scale (w, h) and the training crops (h, w)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,  # the demo recipe: 4 beat 8 at equal images (docs/benchmarks.md)
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], background_classes=('background', ))
test_evaluator = val_evaluator
# Test-time augmentation (tools/test.py --tta, as `make demo` tests its segmentor): the image and
# its horizontal mirror at the test size, their probabilities averaged (SegTTAModel). On the demo
# segmentor: mIoU 31.93 -> 33.94 for 2x the test time; with scales 0.9/1/1.1 as well 35.19 for
# 4.8x (docs/benchmarks.md, issue 8's eleventh round).
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=crop_size, keep_ratio=True)],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True)],
             [dict(type='PackSegInputs')],
         ]),
]
tta_model = dict(type='SegTTAModel')

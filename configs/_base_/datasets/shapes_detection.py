# The built-in `shapes` dataset in COCO format (python -m vitdense.datasets.shapes); its 8
# classes are ShapesDataset's default metainfo.
dataset_type = 'ShapesDataset'
data_root = 'data/shapes/'
image_size = (320, 320)  # square: the resize scale (w, h) and the training crops (h, w)
# Tested at the top of the training resize range (1.25 x): small objects cover more of the
# stride-8 grid. The demo detector: mAP 0.132 at 400 vs 0.118 at 320 (0.133 at 480);
# docs/benchmarks.md. The segmentor is tested at its training size (mIoU 16.4 vs 15.9 at 1.25 x).
test_size = (400, 400)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(
    batch_size=4,  # the demo recipe: 4 beat 8 and 2 at equal images (docs/benchmarks.md)
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=2),
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
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json',
                     metric='bbox', classwise=True)
test_evaluator = val_evaluator
# Test-time augmentation (tools/test.py --tta): the image and its horizontal mirror at the test
# size; the mirror's boxes flipped back, both views' detections merged by class-aware NMS
# (DetTTAModel, mmdet's convention).
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=test_size, keep_ratio=True)],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations', with_bbox=True)],
             [dict(type='PackDetInputs')],
         ]),
]
tta_model = dict(type='DetTTAModel', nms_iou_thr=0.6, max_per_img=100)

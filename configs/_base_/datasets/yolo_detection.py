# A YOLO-format (Ultralytics) detection dataset: images/{train,val}/*.jpg with
# labels/{train,val}/*.txt ('class cx cy w h' per line, fractions of the image size) and a data
# YAML (path, train, val, names). Here the shapes data written in that layout by
#   python tools/dataset_converters/coco_to_yolo.py (see its docstring: train and val)
# For your own data: point data_root at the folder of your data YAML and set classes to its
# names (YoloDataset checks that they agree; num_classes of the head is their number).
dataset_type = 'YoloDataset'
data_root = 'data/shapes_yolo/'
classes = ('circle', 'square', 'triangle', 'star', 'hexagon', 'cross', 'ring', 'crescent')
image_size = (320, 320)  # square: the resize scale (w, h) and the training crops (h, w)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
# CocoMetric (no ann_file) builds its ground truth from the packed gt_instances, mapped back to
# original pixels by the factor the boxes were resized by (gt_bboxes_scale_factor): either order
# of LoadAnnotations and Resize evaluates the same.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
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
        ann_file='data.yaml',
        split='train',
        metainfo=dict(classes=classes),
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
        ann_file='data.yaml',
        split='val',
        metainfo=dict(classes=classes),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# No ann_file: the COCO ground truth is built in memory from the evaluated samples' boxes, which
# YoloDataset read from the label files (box areas w * h decide small / medium / large).
val_evaluator = dict(type='CocoMetric', metric='bbox', classwise=True)
test_evaluator = val_evaluator

# The objects of the built-in `shapes` dataset as 64 x 64 classification crops
# (python -m vitdense.datasets.shapes): one sample per non-crowd object of >= 12 px; its 8
# classes are ShapesCropDataset's default metainfo.
dataset_type = 'ShapesCropDataset'
data_root = 'data/shapes/'
crop_size = (64, 64)  # (w, h) of the crops fed to the model

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropObject', margin_range=(0.1, 0.25), pad_val=114),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropObject', margin_range=(0.175, 0.175), pad_val=114),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        min_size=12,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        min_size=12,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

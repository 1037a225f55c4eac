# The objects of the built-in `shapes` dataset as 48 x 48 classification crops
# (python -m vitdense.datasets.shapes): one sample per non-crowd object of >= 12 px; its 8
# classes are ShapesCropDataset's default metainfo.
dataset_type = 'ShapesCropDataset'
data_root = 'data/shapes/'
# (w, h) of the crops fed to the model. 48 px: the hybrid ViT reached 33.8 % val top-1 after 200
# iterations and 66.8 % after 600, vs 18.2 % after 200 with 64 px crops (docs/benchmarks.md).
crop_size = (48, 48)

# One sample per object: each image is read ~17 times in the demo's 550 iterations, so the loader
# keeps the decoded train images (~0.6 GB): 64 crops in 0.017 s instead of 0.08 s once warm.
train_pipeline = [
    dict(type='LoadImageFromFile', cache_bytes=1 << 30),
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
# Loaded in the training process: warm, 64 crops take ~15 ms there, while a loader worker, on the
# cores the model's two threads compute on, fell behind and made the step 1.33x slower (0.30 vs
# 0.40 s and 0.25 vs 0.34 s, 2 threads; docs/benchmarks.md, issue 8's sixth round).
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
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

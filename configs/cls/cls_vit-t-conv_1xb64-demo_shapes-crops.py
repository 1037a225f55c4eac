# The old recipe's pretraining (the `make demo` of before issue 8, kept to measure its learning
# curve): a plain ViT-Tiny with a conv stem as an 8-way classifier of 64 x 64 object crops (its
# 20 x 20 absolute PE is resampled to a crop's 4 x 4 grid). The vit-t-conv detector and
# segmentor start from its last checkpoint, in its work dir (work_dirs/<this file's name>).
_base_ = [
    '../_base_/models/cls_demo.py', '../_base_/models/vit-t-conv_demo.py',
    '../_base_/datasets/shapes_crops.py', '../_base_/schedules/schedule_demo-v1.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.backbone}})
train_cfg = dict(max_iters={{_base_.pretrain_iters}})
# Warm-up, then a constant rate: in a schedule this short, cosine decay stops learning early
# (val top-1 30.4 % with cosine to 1e-5 vs 50.8 % constant, 600 iterations; docs/benchmarks.md).
param_scheduler = [{{_base_.lr_warmup}}]
# The old recipe's 64 x 64 crops (the dataset base now has the new recipe's 48).
old_crop_size = (64, 64)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='CropObject', margin_range=(0.1, 0.25), pad_val=114),
    dict(type='Resize', scale=old_crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackClsInputs'),
]))
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='CropObject', margin_range=(0.175, 0.175), pad_val=114),
    dict(type='Resize', scale=old_crop_size, keep_ratio=False),
    dict(type='PackClsInputs'),
]))
test_dataloader = val_dataloader
auto_scale_lr = dict(base_batch_size=64)  # the demo schedule's rate, at this batch

# `make demo`, step 1: pretrain the demo's ViT-Tiny backbone (conv stem) as an 8-way classifier
# of 64 x 64 object crops cut from the shapes train split; the detector and the segmentor then
# start from its `backbone.*` weights. The backbone config is exactly the one of
# configs/fcos/fcos_vit-t-conv_1xb8-demo_shapes.py and configs/fpnseg/fpnseg_vit-t-conv_1xb8-
# demo_shapes.py (its 20 x 20 absolute PE is resampled on the fly to the 4 x 4 grid of a crop).
_base_ = [
    '../_base_/datasets/shapes_crops.py', '../_base_/schedules/adamw_iter.py',
    '../_base_/default_runtime.py'
]
max_iters = 600
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='DenseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ViT',
        arch='tiny',
        img_size=(320, 320),
        patch_size=16,
        stem=dict(type='ConvStem', stride=16, base_channels=32),
        pos_embed=dict(type='LearnedAbsolutePE'),
        drop_path_rate=0.0,
        out_indices=(-1, )),
    head=dict(type='LinearClsHead', num_classes=8, in_feature='p4'))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05))
# Warm-up, then a constant rate: in a schedule this short, cosine decay stops learning early
# (val top-1 30.4 % with cosine to 1e-5 vs 50.8 % constant, 600 iterations; docs/benchmarks.md).
param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50)]
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=max_iters), logger=dict(interval=20))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

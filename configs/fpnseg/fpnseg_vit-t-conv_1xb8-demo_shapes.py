# The `make demo` segmentor: a ViT-Tiny with a convolutional stem and a light FPN decoder,
# fine-tuned on the built-in shapes dataset in a few minutes on a CPU, starting from the backbone
# that configs/cls/cls_vit-t-conv_1xb64-demo_shapes-crops.py pretrains (train that first;
# `make demo` does, and passes its checkpoint).
_base_ = [
    '../_base_/models/fpnseg_vit.py', '../_base_/datasets/shapes_segmentation.py',
    '../_base_/schedules/adamw_iter.py', '../_base_/default_runtime.py'
]
max_iters = 300
model = dict(
    backbone=dict(
        arch='tiny',
        img_size=(320, 320),
        stem=dict(type='ConvStem', stride=16, base_channels=32),
        drop_path_rate=0.0,
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='work_dirs/cls_vit-t-conv_1xb64-demo_shapes-crops/iter_600.pth')),
    neck=dict(out_channels=96),
    decode_head=dict(num_classes=9, channels=96))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.3)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, eta_min_ratio=0.01),
]
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=max_iters), logger=dict(interval=20))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

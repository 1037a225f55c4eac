# The FPN-fuse decoder on ViT-B/16 (learned absolute PE), ADE20K at 512 x 512, 160k iterations
# on 8 GPUs x 2 images, sliding-window inference. Initialise the backbone from a converted
# checkpoint (tools/convert_weights.py) through backbone.init_cfg.
_base_ = [
    '../_base_/models/fpnseg_vit.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    decode_head=dict(num_classes=150),
    test_mode='slide',
    crop_size=crop_size,
    stride=(341, 341))
train_dataloader = dict(batch_size=2)
max_iters = 160000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=max_iters),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=16000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)

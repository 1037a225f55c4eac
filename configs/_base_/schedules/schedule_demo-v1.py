# The `make demo` schedule before issue 8 (the "old recipe"), kept to measure its learning
# curve: AdamW lr 1e-3, linear warm-up, then cosine decay to 0.01 x lr at the last iteration
# (constant for the pretraining); the fine-tuned backbone learns at 0.3 x lr.
pretrain_iters = 600  # configs/cls/cls_vit-t-conv_1xb64-demo_shapes-crops.py
detector_iters = 300  # configs/fcos/fcos_vit-t-conv_1xb8-demo_shapes.py
segmentor_iters = 300  # configs/fpnseg/fpnseg_vit-t-conv_1xb8-demo_shapes.py
warmup_iters = 50

train_cfg = dict(type='IterBasedTrainLoop', val_interval=1000)  # leaves set max_iters
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0, norm_type=2))
finetune_paramwise_cfg = dict(custom_keys={'backbone': dict(lr_mult=0.3)})  # dense jobs
lr_warmup = dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters)
param_scheduler = [
    lr_warmup,
    dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup_iters, eta_min_ratio=0.01),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=-1, max_keep_ckpts=2))
# The total batch (processes x batch per process) the learning rate is set for: --auto-scale-lr
# scales it linearly to the batch a run uses (mmdet's convention).
auto_scale_lr = dict(enable=False, base_batch_size=8)

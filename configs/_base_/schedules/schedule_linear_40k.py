# DINOv2's linear segmentation probe: 40k iterations of AdamW (lr 1e-3, weight decay 1e-4),
# linear warm-up over 1500 iterations, then linear (poly 1) decay to 0. The backbone is frozen
# in the model config (the ViT's frozen_stages: no gradient is computed for it); lr_mult 0 here
# keeps it fixed for a backbone without that option too. Validation and a checkpoint every 4k.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.0, decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500),  # end: max_iters
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=3))
# The total batch (processes x batch per process) the learning rate is set for: --auto-scale-lr
# scales it linearly to the batch a run uses (mmdet's convention).
auto_scale_lr = dict(enable=False, base_batch_size=16)

# mmseg's ViT-B recipe for UPerNet and DPT on ADE20K: 160k iterations of AdamW at lr 6e-5
# (betas 0.9, 0.999; weight decay 0.01, none on the position table, the cls token and norm
# layers), linear warm-up over 1500 iterations from 1e-6 x lr, then linear (poly 1) decay to 0,
# no gradient clipping. Validation and a checkpoint every 16k.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0,
                       custom_keys={'pos_embed': dict(decay_mult=0.0),
                                    'cls_token': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500),  # end: max_iters
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000, max_keep_ckpts=3))
# The total batch (processes x batch per process) the learning rate is set for: --auto-scale-lr
# scales it linearly to the batch a run uses (mmdet's convention).
auto_scale_lr = dict(enable=False, base_batch_size=16)

# 160k iterations of SGD for semantic segmentation, as SETR's and Segmenter's ADE20K recipes
# (mmseg's schedule_160k with their lr 0.001 and no weight decay): momentum 0.9, poly (0.9)
# decay to 1e-4, no warm-up. Validation and a checkpoint every 16k.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=1e-4, by_epoch=False, begin=0),  # end: max_iters
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000, max_keep_ckpts=3))
# The total batch (processes x batch per process) the learning rate is set for: --auto-scale-lr
# scales it linearly to the batch a run uses (mmdet's convention).
auto_scale_lr = dict(enable=False, base_batch_size=8)

# FCOS on ViT-B/16 in the ViTDet layout (windowed attention, global blocks 2/5/8/11), COCO 2017,
# large-scale jitter at 1024, 50 epochs on 8 GPUs x 2 images. Initialise the backbone from a
# converted MAE checkpoint (tools/convert_weights.py) through backbone.init_cfg.
_base_ = [
    '../_base_/models/fcos_vit.py', '../_base_/datasets/coco_detection.py',
    '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(
        window_size=14,
        global_indices=(2, 5, 8, 11),
        drop_path_rate=0.1,
        with_checkpoint=False))
max_epochs = 50
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs, milestones=[44, 48],
         gamma=0.1),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)

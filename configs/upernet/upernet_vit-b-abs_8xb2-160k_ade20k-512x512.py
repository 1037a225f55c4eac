# UPerNet on ViT-B/16 (learned absolute PE) as mmseg's ViT recipe (mmseg: 46.75 mIoU single
# scale at 160k from IN-21k weights): blocks 2, 5, 8, 11 brought to strides 4-32 by the
# multi-level neck (768 wide, bilinear resizing, no norm), UPerHead 512 wide, an FCN auxiliary
# head on the stride-32 level at 0.4 of the loss; ADE20K at 512 x 512, 160k iterations on
# 8 GPUs x 2 images, whole-image inference. Initialise the backbone from a converted checkpoint
# (tools/convert_weights.py) through backbone.init_cfg.
_base_ = [
    '../_base_/models/vit-b-abs_segmentor.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_adamw-vit-seg_160k.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(out_indices=(2, 5, 8, 11)),
    neck=dict(type='MultiLevelNeck', in_features=('b2', 'b5', 'b8', 'b11'), out_channels=768,
              scale_factors=(4.0, 2.0, 1.0, 0.5), norm=None, upsample='bilinear'),
    decode_head=dict(type='UPerHead', in_features=('p2', 'p3', 'p4', 'p5'), channels=512,
                     pool_scales=(1, 2, 3, 6), dropout=0.1),
    auxiliary_head=dict(type='FCNHead', num_classes=_base_.num_classes, in_features=('p5', ),
                        channels=256, num_convs=1, concat_input=False, dropout=0.1,
                        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
    test_mode='whole')
train_dataloader = dict(batch_size=2)
# The decode head has BatchNorm: under several processes, normalise over the global batch
# (SyncBN, as mmseg's configs; ignored by a single process).
sync_bn = 'torch'

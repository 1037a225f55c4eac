# SETR-PUP (Zheng et al. 2021, arXiv 2012.15840) on ViT-B/16 (learned absolute PE), ADE20K at
# 512 x 512, 160k iterations on 8 GPUs x 2 images, sliding-window inference. SETR used ViT-L
# (main head on block 23, auxiliary heads on 9, 14, 19); ViT-B here, with the blocks at about
# the same relative depths (11; 4, 7, 9). Auxiliary heads (loss weight 0.4) as mmseg's config:
# two 3x3 convs, each followed by a 4x upsampling. Initialise the backbone from a converted
# checkpoint (tools/convert_weights.py) through backbone.init_cfg.
_base_ = [
    '../_base_/models/vit-b-abs_segmentor.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_setr_160k.py', '../_base_/default_runtime.py'
]
aux_head = dict(
    type='SETRUPHead', num_classes={{_base_.num_classes}}, channels=256, num_convs=2,
    kernel_size=3, up_scale=4, dropout=0.0,
    loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True, loss_weight=0.4))
model = dict(
    backbone=dict(out_indices=(4, 7, 9, 11), drop_path_rate=0.0),
    decode_head=dict(type='SETRUPHead', in_features=('b11', ), channels=256, num_convs=4,
                     kernel_size=3, up_scale=2, dropout=0.0),
    auxiliary_head=[dict(aux_head, in_features=(f'b{i}', )) for i in (4, 7, 9)],
    test_mode='slide',
    crop_size={{_base_.crop_size}},
    stride=(341, 341))
train_dataloader = dict(batch_size=2)
# The decode head has BatchNorm: under several processes, normalise over the global batch
# (SyncBN, as mmseg's configs; ignored by a single process).
sync_bn = 'torch'

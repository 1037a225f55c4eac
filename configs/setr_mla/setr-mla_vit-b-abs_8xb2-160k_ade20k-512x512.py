# SETR-MLA (Zheng et al. 2021, arXiv 2012.15840) on ViT-B/16 (learned absolute PE), ADE20K at
# 512 x 512, 160k iterations on 8 GPUs x 2 images, sliding-window inference. SETR used ViT-L
# (blocks 5, 11, 17, 23); ViT-B here, with the blocks at the same relative depths (2, 5, 8,
# 11). mmseg's auxiliary FCN heads on the aggregated streams are left out (the aggregation is
# inside the head here). Initialise the backbone from a converted checkpoint
# (tools/convert_weights.py) through backbone.init_cfg.
_base_ = [
    '../_base_/models/vit-b-abs_segmentor.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_setr_160k.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(out_indices=(2, 5, 8, 11), drop_path_rate=0.0),
    decode_head=dict(type='SETRMLAHead', in_features=('b2', 'b5', 'b8', 'b11'),
                     mla_channels=256, head_channels=128, up_scale=4, dropout=0.0),
    test_mode='slide',
    crop_size={{_base_.crop_size}},
    stride=(341, 341))
train_dataloader = dict(batch_size=2)
# The decode head has BatchNorm: under several processes, normalise over the global batch
# (SyncBN, as mmseg's configs; ignored by a single process).
sync_bn = 'torch'

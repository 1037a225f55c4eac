# DINOv2's "linear" ADE20K evaluation (Oquab et al. 2023, arXiv 2304.07193): a frozen ViT-B/16
# (learned absolute PE; DINOv2 used its own ViT-S/B/L/g with 14-pixel patches), BatchNorm and a
# 1x1 classifier on the last block, 40k iterations on 8 GPUs x 2 images at 512 x 512,
# sliding-window inference. Its "+ms" head reads the last four blocks (in_features=('b8', 'b9',
# 'b10', 'b11') with out_indices=(8, 9, 10, 11)), at 640 px, tested at several scales (--tta).
# Initialise the backbone from a converted checkpoint (tools/convert_weights.py) through
# backbone.init_cfg.
_base_ = [
    '../_base_/models/vit-b-abs_segmentor.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_linear_40k.py', '../_base_/default_runtime.py'
]
model = dict(
    # Frozen (all 12 blocks, the patch embedding, the PE and the output norms): no gradient,
    # no stochastic depth.
    backbone=dict(drop_path_rate=0.0, frozen_stages=12),
    decode_head=dict(type='LinearHead', in_features=('b11', ), dropout=0.0),
    test_mode='slide',
    crop_size={{_base_.crop_size}},
    stride=(341, 341))
train_dataloader = dict(batch_size=2)
# The decode head has BatchNorm: under several processes, normalise over the global batch
# (SyncBN, as mmseg's configs; ignored by a single process).
sync_bn = 'torch'

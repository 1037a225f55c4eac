# DPT on ViT-B/16 (learned absolute PE) as mmseg's recipe (mmseg: 46.97 mIoU single scale at
# 160k): blocks 2, 5, 8, 11 without output norms, their cls tokens read out by projection,
# reassembled to strides 4-32 (96, 192, 384, 768 wide), fused 256 wide; ADE20K at 512 x 512,
# 160k iterations on 8 GPUs x 2 images, whole-image inference. Initialise the backbone from a
# converted checkpoint (tools/convert_weights.py) through backbone.init_cfg.
_base_ = [
    '../_base_/models/vit-b-abs_segmentor.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_adamw-vit-seg_160k.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(use_cls_token=True, out_cls_token=True, out_indices=(2, 5, 8, 11),
                  out_norm=False),
    decode_head=dict(type='DPTHead', in_features=('b2', 'b5', 'b8', 'b11'), readout='project',
                     reassemble_channels=(96, 192, 384, 768), reassemble_factors=(4, 2, 1, 0.5),
                     channels=256),
    test_mode='whole')
train_dataloader = dict(batch_size=2)
# The decode head has BatchNorm: under several processes, normalise over the global batch
# (SyncBN, as mmseg's configs; ignored by a single process).
sync_bn = 'torch'

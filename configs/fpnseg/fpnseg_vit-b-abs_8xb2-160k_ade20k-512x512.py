# The FPN-fuse decoder on ViT-B/16 (learned absolute PE), ADE20K at 512 x 512, 160k iterations
# on 8 GPUs x 2 images, sliding-window inference. Initialise the backbone from a converted
# checkpoint (tools/convert_weights.py) through backbone.init_cfg.
_base_ = [
    '../_base_/models/fpnseg_vit.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_160k.py', '../_base_/default_runtime.py'
]
model = dict(test_mode='slide', crop_size={{_base_.crop_size}}, stride=(341, 341))
train_dataloader = dict(batch_size=2)

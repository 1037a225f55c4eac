# The CNN reference for the demo segmentor: the same neck, decoder, data and schedule on a plain
# CNN of basic blocks (ResNet-18-like, stride 16), trained from scratch.
_base_ = [
    '../_base_/models/fpnseg_demo.py', '../_base_/models/cnn-basicblock_demo.py',
    '../_base_/datasets/shapes_segmentation.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.backbone}})
train_cfg = dict(max_iters={{_base_.segmentor_iters}})

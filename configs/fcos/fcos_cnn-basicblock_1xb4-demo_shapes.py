# The CNN reference for the demo detector: FCOS with the same neck, head, data and schedule on a
# plain CNN of basic blocks (ResNet-18-like, stride 16), trained from scratch.
_base_ = [
    '../_base_/models/fcos_demo.py', '../_base_/models/cnn-basicblock_demo.py',
    '../_base_/datasets/shapes_detection.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.backbone}})
train_cfg = dict(max_iters={{_base_.detector_iters}})

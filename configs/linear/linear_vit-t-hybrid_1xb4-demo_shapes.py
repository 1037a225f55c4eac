# DINOv2's linear probe on the demo's hybrid ViT-Tiny, on the built-in shapes dataset: the
# backbone of the demo detector (configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py, train it
# first) frozen, BatchNorm and a 1x1 classifier trained on its last four blocks.
_base_ = [
    '../_base_/models/linear_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/shapes_segmentation.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
# frozen_stages=6: all 6 blocks, the stem (its BatchNorm statistics too) and the output norms
# get no gradient, and backward stops at the head.
model = dict(
    backbone=dict(_base_.detector_backbone, out_indices=(2, 3, 4, 5), frozen_stages=6))
train_cfg = dict(max_iters={{_base_.segmentor_iters}})

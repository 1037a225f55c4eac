# UPerNet (with an FCN auxiliary head) on the demo's hybrid ViT-Tiny and its simple feature
# pyramid, fine-tuned on the built-in shapes dataset from the backbone of the demo detector
# (configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py: train it first).
_base_ = [
    '../_base_/models/upernet_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/shapes_segmentation.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.detector_backbone}})
train_cfg = dict(max_iters={{_base_.segmentor_iters}})

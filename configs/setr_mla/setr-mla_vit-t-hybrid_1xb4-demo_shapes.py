# SETR-MLA on the demo's hybrid ViT-Tiny (blocks 1, 3, 5), fine-tuned on the built-in shapes
# dataset from the backbone of the demo detector
# (configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py: train it first).
_base_ = [
    '../_base_/models/setr-mla_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/shapes_segmentation.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone=dict(_base_.detector_backbone, out_indices=(1, 3, 5)))
train_cfg = dict(max_iters={{_base_.segmentor_iters}})

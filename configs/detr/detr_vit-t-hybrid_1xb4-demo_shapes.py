# DETR on the demo's hybrid ViT-Tiny, fine-tuned on shapes from the crop pretraining
# (configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py; train that first), with the FCOS
# demo's schedule and data pipeline: compare with
# configs/fcos/fcos_vit-t-hybrid_1xb4-plain-demo_shapes.py (the demo detector without copy-paste).
_base_ = [
    '../_base_/models/detr_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/shapes_detection.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.pretrained_backbone}})
train_cfg = dict(max_iters={{_base_.detector_iters}})

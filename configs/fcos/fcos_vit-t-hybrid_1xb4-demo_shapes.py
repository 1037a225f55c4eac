# `make demo`, job 2: FCOS on the demo's hybrid ViT-Tiny, fine-tuned on the built-in shapes
# dataset in minutes on a CPU (bf16 autocast with --amp), from the backbone that
# configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py pretrains: train that first
# (python tools/train.py configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py --amp).
_base_ = [
    '../_base_/models/fcos_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/shapes_detection.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.pretrained_backbone}})
train_cfg = dict(max_iters={{_base_.detector_iters}})

# FCOS on the 6-block hybrid ViT-Tiny, fine-tuned on the built-in shapes dataset in minutes on a
# CPU (bf16 autocast with --amp), from the backbone that
# configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py pretrains: train that first
# (python tools/train.py configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py --amp).
# `make demo`'s detector until issue 8's twelfth round, when the 2-block hybrid trained from
# scratch replaced it (fcos_vit-t2-hybrid_1xb4-demo_shapes.py); the decoder, DETR-family and
# resolution-study configs start from this one's backbone, as their figures were measured.
# Trained on the demo detectors' data (shapes_detection_demo.py: 256 px crops with copy-paste;
# fcos_vit-t-hybrid_1xb4-plain-demo_shapes.py trains without copy-paste), for
# vit6_detector_iters = 1,200 iterations (schedule_demo.py says why).
_base_ = [
    '../_base_/models/fcos_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/shapes_detection_demo.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.pretrained_backbone}})
train_cfg = dict(max_iters={{_base_.vit6_detector_iters}})

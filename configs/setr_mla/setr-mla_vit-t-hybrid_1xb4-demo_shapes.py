# SETR-MLA (blocks 1, 3, 5) on the 6-block hybrid ViT-Tiny, fine-tuned on the built-in shapes
# dataset (9 classes, background learned) in minutes on a CPU, from the backbone of the 6-block
# detector (python tools/train.py configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py --amp,
# then configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py). `make demo`'s segmentor until issue
# 8's twelfth round (now setr-mla_vit-t2-hybrid_1xb4-demo_shapes.py, on the 2-block hybrid); on
# the demo segmentors' data (shapes_segmentation_demo.py: 256 px crops).
# The backbone is frozen (frozen_stages='all': stem, its BatchNorm statistics, all 6 blocks and
# the output norms; in the segmentor's few minutes it learns little its decoder can use). Of the
# decoders on that recipe, SETR-MLA learns the most per minute: it reads the stride-16 blocks and
# upsamples once, where FPN-fuse pays for a stride-4 pyramid level, so its step is ~2x cheaper
# (0.21 vs 0.42 s on 2 threads) and the demo's minutes buy twice the iterations. Equal minutes:
# mIoU 23.92 / mIoU_fg 15.31 after 1,300 iterations against FPN-fuse's 19.32 / 10.13 after 650;
# seed 1: 22.39 / 13.61 against 19.79 / 10.67 (docs/benchmarks.md, issue 8's seventh round).
_base_ = [
    '../_base_/models/setr-mla_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/shapes_segmentation_demo.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone=dict(_base_.detector_backbone, out_indices=(1, 3, 5), frozen_stages='all'))
train_cfg = dict(max_iters={{_base_.vit6_segmentor_iters}})

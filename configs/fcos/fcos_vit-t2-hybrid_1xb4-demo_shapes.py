# `make demo`, job 1: FCOS on the demo's 2-block hybrid ViT (configs/_base_/models/
# vit-t2-hybrid_demo.py: a deep convolutional stem and 2 transformer blocks), trained from
# scratch on the built-in shapes dataset in minutes on a CPU (bf16 autocast with --amp), with
# the data of the 6-block detector it replaced (shapes_detection_demo.py: 256 px crops with
# copy-paste, tested at 400 px). No crop pretraining: the stem's locality prior learns the
# shapes from scratch, and the pretraining's minutes buy detector iterations instead
# (demo_detector_iters in schedule_demo.py). On one thread: mAP 0.372 (AP50 0.513) after 2,600
# iterations in 11.9 minutes, against 0.21-0.25 for the 6-block detector after its pretraining
# and 1,200 iterations (docs/benchmarks.md, issue 8's twelfth round).
_base_ = [
    '../_base_/models/fcos_demo.py', '../_base_/models/vit-t2-hybrid_demo.py',
    '../_base_/datasets/shapes_detection_demo.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.backbone}})
train_cfg = dict(max_iters={{_base_.demo_detector_iters}}, val_interval=1200)  # mid-run and end

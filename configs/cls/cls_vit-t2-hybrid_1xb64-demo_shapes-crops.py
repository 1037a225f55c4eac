# `make demo`, job 1: pretrain the demo's 2-block hybrid ViT (configs/_base_/models/
# vit-t2-hybrid_demo.py) as an 8-way classifier of 48 x 48 object crops cut from the shapes train
# split, from scratch. The demo detector starts from the `backbone.*` weights of its last
# checkpoint, in its work dir (work_dirs/<this file's name>). The crops are cheap views of the
# one thing the detector learns slowest, which shape an object is: on one thread, this pretraining
# and 1,900 detector iterations reached mAP 0.402 / 0.397 (seeds 0 / 1) where 2,400 detector
# iterations from scratch, in the same minutes, reached 0.339 / 0.355 (docs/benchmarks.md, issue
# 8's thirteenth round).
_base_ = [
    '../_base_/models/cls_demo.py', '../_base_/models/vit-t2-hybrid_demo.py',
    '../_base_/datasets/shapes_crops.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone={{_base_.backbone}})
train_cfg = dict(max_iters={{_base_.pretrain_iters}})
# Warm-up, then a constant rate, as the 6-block chain's pretraining
# (cls_vit-t-hybrid_1xb64-demo_shapes-crops.py says why).
param_scheduler = [{{_base_.lr_warmup}}]
auto_scale_lr = dict(base_batch_size=64)  # the demo schedule's rate, at this batch

# The `make demo` schedule, shared by its three jobs (pretraining, detector, segmentor) and by
# the CNN references: every value that is tuned is here, once. AdamW without weight decay on
# norm layers, linear warm-up, then cosine decay to 0.01 x lr at the last iteration (mmengine
# ends a scheduler there when it has no `end`). The pretraining keeps a constant rate after the
# warm-up (its leaf says why).
# `make demo` from a fresh clone took 21m13s with 650 pretraining and 750 segmentor iterations
# (docs/benchmarks.md, "`make demo` from a fresh clone"): both were cut to bring it back under the
# 20 minutes with a margin.
pretrain_iters = 550  # configs/cls/*_demo_shapes-crops.py, 64 crops per iteration
# The dense jobs take 4 images per iteration (the shapes dataset bases): twice the updates of
# batch 8 for the same images and time, mAP 0.118 vs 0.088 and mIoU 14.4 vs 14.0 (batch 2: mAP
# 0.109; docs/benchmarks.md).
detector_iters = 600  # configs/fcos/*_demo_shapes.py, the DETR family's, the resolution study's
# The 6-block detector (configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py, the demo's until issue
# 8's twelfth round) trains on 256 px crops, whose step is ~0.6x the 320 px one's: 900 of them
# take the minutes of the 600 at 320 px and reach mAP 0.165 / 0.149 against 0.125 / 0.111 (seeds
# 0 / 1, one thread, side by side; docs/benchmarks.md, issue 8's ninth round). 1,200 iterations
# (tenth round) reached 0.231 / 0.243 against 0.155 / 0.158 for 900 (seeds 0 / 1, one thread,
# side by side, an AMX Xeon): the model is still far from converged at 900.
vit6_detector_iters = 1200
# The demo detector (configs/fcos/fcos_vit-t2-hybrid_1xb4-demo_shapes.py: the 2-block hybrid):
# from scratch, one thread, side by side, 2,600 iterations took 11.9 minutes and reached mAP 0.372
# (docs/benchmarks.md, issue 8's twelfth round). After the crop pretraining (pretrain_iters, 2.2
# one-thread minutes, the time of ~450 detector iterations), 1,900 iterations reached 0.402 /
# 0.397 (seeds 0 / 1) where 2,400 from scratch reached 0.339 / 0.355 in the same minutes; twice
# the pretraining (1,100) and 1,450 iterations, 0.340 / 0.371; the pretraining and 2,400
# iterations, 0.473 (thirteenth round). `make demo` trains 2,200: with the pretraining, 2,400
# and the segmentor's 2,600 took 14m42s from a fresh clone on an AMX Xeon (mAP 0.460, mIoU 45.39),
# ~18 minutes estimated on an EPYC and ~22 on the slowest host seen; 2,200 and 2,200 buy the
# margin back (each detector iteration ~0.2 s on 2 threads).
demo_detector_iters = 2200
segmentor_iters = 400  # the shapes decoders (configs/<decoder>/*_demo_shapes.py), backbone trained
# The frozen FPN-fuse segmentor (configs/fpnseg/fpnseg_vit-t-hybrid_1xb4-demo_shapes.py: the
# demo's until issue 8's seventh round, and the resolution study's) freezes its backbone, which
# makes its step 1.9x cheaper on 2 threads (0.35 vs 0.67 s), and spends the same minutes on
# more iterations: one thread, 540 frozen iterations reached mIoU 17.92 in 5.5 training minutes
# where 400 trained ones reached 16.31 in 7.1 (docs/benchmarks.md, issue 8's fourth round).
frozen_segmentor_iters = 650
# The 6-block chain's segmentor (configs/setr_mla/setr-mla_vit-t-hybrid_1xb4-demo_shapes.py, the
# demo's until issue 8's twelfth round): SETR-MLA on
# the frozen backbone, whose step costs half the frozen FPN-fuse one's (0.21 vs 0.42 s, 2
# threads), so the FPN-fuse segmentor's minutes buy 1,300 iterations: mIoU 23.92 against 19.32
# (docs/benchmarks.md, issue 8's seventh round). On 256 px crops (ninth round) its step is 0.66x
# as dear, and 1,900 iterations, in the minutes of the 1,300 at 320 px, reached mIoU 26.97 / 27.21
# against 25.82 / 25.41 (seeds 0 / 1, one thread, side by side).
vit6_segmentor_iters = 1900
# The demo segmentor (configs/setr_mla/setr-mla_vit-t2-hybrid_1xb4-demo_shapes.py: SETR-MLA on
# the demo detector's frozen 2-block backbone), whose step is cheaper (65 vs 77 ms on 2 threads):
# one thread, from the same detector, 2,600 iterations reached mIoU 41.61 in 4.5 minutes where
# 1,900 reached 37.51 in 3.2 (issue 8's thirteenth round); in `make demo` its step took ~70 ms
# to the detector's ~180 (mmengine's logged times, 2 threads). It trains 2,200, for the demo's
# wall time (demo_detector_iters says why).
demo_segmentor_iters = 2200
warmup_iters = 50

train_cfg = dict(type='IterBasedTrainLoop', val_interval=1000)  # leaves set max_iters
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# torch's fused AdamW, over one group per distinct set of options (2: decay and no decay) rather
# than mmengine's one per tensor: the demo detector's optimizer step 25.5 -> 11.5 ms, its step
# 265 -> 247 ms (docs/benchmarks.md, issue 8's eleventh round).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(max_norm=1.0, norm_type=2))
lr_warmup = dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters)
param_scheduler = [
    lr_warmup,
    dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup_iters, eta_min_ratio=0.01),
]
# Validation every val_interval iterations and at the last one; the checkpoint of the last
# iteration only (save_last), which the dense jobs load the pretrained backbone from.
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=-1, max_keep_ckpts=2))
# The total batch (processes x batch per process) the learning rate is set for: --auto-scale-lr
# scales it linearly to the batch a run uses (mmdet's convention).
auto_scale_lr = dict(enable=False, base_batch_size=4)

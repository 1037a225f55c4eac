# The FPN-fuse segmentor on the demo's hybrid ViT-Tiny (`make demo`'s job 3 until issue 8's
# seventh round, now SETR-MLA's config beside it; the resolution study's base), fine-tuned on the
# built-in shapes dataset (9 classes, background learned) in minutes on a CPU, from the backbone
# and the shared neck levels of the demo detector
# (configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py), itself fine-tuned
# from the pretraining: train those two first (`make demo` does; or
# python tools/train.py configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py --amp, then the
# detector config).
_base_ = [
    '../_base_/models/fpnseg_demo.py', '../_base_/models/vit-t-hybrid_demo.py',
    '../_base_/datasets/shapes_segmentation.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
# The backbone is frozen (frozen_stages='all': the stem, its BatchNorm statistics included, all
# 6 blocks and the output norms): in the segmentor's few minutes it learns little the decoder
# can use, and the frozen step is 1.9x cheaper, so the same minutes buy more decoder iterations
# (schedule_demo.py).
model = dict(backbone=dict(_base_.backbone, frozen_stages='all'), init_cfg={{_base_.detector_init}})
train_cfg = dict(max_iters={{_base_.frozen_segmentor_iters}})
# Its data loaded in the training process: with the frozen backbone's cheap step, a loader
# worker on the same two cores made it 1.17x slower (0.44 vs 0.38 s and 0.52 vs 0.44 s;
# docs/benchmarks.md, issue 8's sixth round). The detector keeps its worker (no clear
# difference there: 0.68 vs 0.73 s and 0.68 vs 0.62 s).
train_dataloader = dict(num_workers=0, persistent_workers=False)

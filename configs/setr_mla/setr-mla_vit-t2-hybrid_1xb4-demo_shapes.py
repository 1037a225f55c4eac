# `make demo`, job 3: SETR-MLA on the demo's 2-block hybrid ViT (both blocks, b0 and b1),
# trained on the built-in shapes dataset (9 classes, background learned) in minutes on a CPU,
# on the frozen backbone of the demo detector (configs/fcos/fcos_vit-t2-hybrid_1xb4-demo_shapes.py:
# `make demo` trains it first), with the data of the 6-block demo segmentor it replaced
# (setr-mla_vit-t-hybrid_1xb4-demo_shapes.py says why SETR-MLA, and why frozen). Its step is
# cheaper than that one's (2 blocks to run, not 6): 65 against 77 ms on 2 threads, an AMX Xeon
# (docs/benchmarks.md, issue 8's twelfth round), and it trains demo_segmentor_iters = 2,200
# iterations (schedule_demo.py says why).
_base_ = [
    '../_base_/models/setr-mla_demo.py', '../_base_/models/vit-t2-hybrid_demo.py',
    '../_base_/datasets/shapes_segmentation_demo.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/default_runtime.py'
]
model = dict(backbone=dict(_base_.detector_backbone, out_indices=(0, 1), frozen_stages='all'),
             decode_head=dict(in_features=('b0', 'b1')))
train_cfg = dict(max_iters={{_base_.demo_segmentor_iters}})

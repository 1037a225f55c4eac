# The resolution study's segmentor (docs/resolution.md): the demo's FPN-fuse segmentor and
# hybrid ViT-Tiny on shapes at 320 px, with ViTDet's layout so that every family, the window
# ones included, runs in the same ViT (5 x 5 windows on the 20 x 20 training grid, global blocks
# 2 and 5), for the demo segmentor's budget. Like the demo segmentor, it starts from its
# family's study detector (configs/resolution/resolution_det-{family}_1xb4-demo_shapes.py: train
# it first; tools/analysis/resolution_study.py does, and points each seed at its own detector):
# every weight the two share, the backbone (its position encoding included) and the neck levels
# p3-p5. Each leaf adds its family's encoding and names its detector's work dir (tools/train.py's
# default for that config; resolution_study.py uses its own work dirs, one per seed).
_base_ = ['../../fpnseg/fpnseg_vit-t-hybrid_1xb4-demo_shapes.py', './pe_families.py']
# The study keeps the recipe its 11 families were trained with (2026-12-02): the backbone
# trained, 400 iterations (the demo segmentor has since frozen its backbone).
model = dict(backbone=dict(init_cfg=None, window_size=5, global_indices=(2, 5), frozen_stages=-1))
train_cfg = dict(max_iters={{_base_.segmentor_iters}})

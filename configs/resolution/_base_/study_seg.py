# The resolution study's segmentor (docs/resolution.md): the demo's FPN-fuse segmentor and
# hybrid ViT-Tiny on shapes at 320 px, with ViTDet's layout so that every family, the window
# ones included, runs in the same ViT (5 x 5 windows on the 20 x 20 training grid, global blocks
# 2 and 5), trained from scratch (a pretraining stage would need each family's own) for the
# demo segmentor's budget. No position encoding here: each leaf adds its family's.
_base_ = ['../../fpnseg/fpnseg_vit-t-hybrid_1xb4-demo_shapes.py', './pe_families.py']
model = dict(backbone=dict(init_cfg=None, window_size=5, global_indices=(2, 5)), init_cfg=None)

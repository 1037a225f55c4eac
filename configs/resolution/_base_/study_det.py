# The resolution study's detector (docs/resolution.md): the demo's FCOS detector and hybrid
# ViT-Tiny on shapes at 320 px, with ViTDet's layout so that every family, the window ones
# included, runs in the same ViT (5 x 5 windows on the 20 x 20 training grid, global blocks 2
# and 5), for the demo detector's budget. Like the demo detector, it starts from the demo's crop
# pretraining (configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py: train it first): the
# stem and the blocks, not the position encoding (load_pos_enc=False), so that every family
# starts its own encoding from its initialisation and shares everything else. (From scratch, the
# demo detector reaches mAP 0.04 in this budget: too little for differences between encodings
# to show, docs/benchmarks.md.) No position encoding here: each leaf adds its family's.
_base_ = ['../../fcos/fcos_vit-t-hybrid_1xb4-plain-demo_shapes.py', './pe_families.py']
model = dict(backbone=dict(init_cfg=dict(load_pos_enc=False), window_size=5,
                           global_indices=(2, 5)))

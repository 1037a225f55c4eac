# The demo detector (fcos_vit-t-hybrid_1xb4-demo_shapes.py) without copy-paste: the shapes
# dataset base's training pipeline (resize, crop, flip). The demo detector was this config until
# issue 8's fifth round (2026-12-03); the figures measured before then, and the resolution
# study's detectors, are of this recipe: 600 iterations on 320 px crops (the demo detector moved
# to 900 on 256 px crops in the ninth round).
_base_ = ['./fcos_vit-t-hybrid_1xb4-demo_shapes.py']
train_cfg = dict(max_iters={{_base_.detector_iters}})
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))

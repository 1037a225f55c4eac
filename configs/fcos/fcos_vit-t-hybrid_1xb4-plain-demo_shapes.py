# The demo detector (fcos_vit-t-hybrid_1xb4-demo_shapes.py) without copy-paste: the shapes
# dataset base's training pipeline (resize, crop, flip). The demo detector was this config until
# issue 8's fifth round (2026-12-03); the figures measured before then, and the resolution
# study's detectors, are of this recipe.
_base_ = ['./fcos_vit-t-hybrid_1xb4-demo_shapes.py']
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))

# Resolution study (docs/resolution.md): the rope_mixed segmentor, from the rope_mixed detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.rope_mixed}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-rope-mixed_1xb4-demo_shapes'))

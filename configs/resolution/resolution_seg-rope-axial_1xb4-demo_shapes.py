# Resolution study (docs/resolution.md): the rope_axial segmentor, from the rope_axial detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.rope_axial}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-rope-axial_1xb4-demo_shapes'))

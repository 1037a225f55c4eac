# Resolution study (docs/resolution.md): the irpe segmentor, from the irpe detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.irpe}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-irpe_1xb4-demo_shapes'))

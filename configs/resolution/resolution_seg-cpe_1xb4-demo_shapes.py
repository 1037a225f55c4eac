# Resolution study (docs/resolution.md): the cpe segmentor, from the cpe detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.cpe}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-cpe_1xb4-demo_shapes'))

# Resolution study (docs/resolution.md): the none segmentor, from the none detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.none}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-none_1xb4-demo_shapes'))

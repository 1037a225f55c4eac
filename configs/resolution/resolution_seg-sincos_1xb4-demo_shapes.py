# Resolution study (docs/resolution.md): the sincos segmentor, from the sincos detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.sincos}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-sincos_1xb4-demo_shapes'))

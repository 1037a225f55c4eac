# Resolution study (docs/resolution.md): the vitdet segmentor, from the vitdet detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.vitdet}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-vitdet_1xb4-demo_shapes'))

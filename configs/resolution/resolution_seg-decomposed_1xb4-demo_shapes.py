# Resolution study (docs/resolution.md): the decomposed segmentor, from the decomposed detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.decomposed}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-decomposed_1xb4-demo_shapes'))

# Resolution study (docs/resolution.md): the abs segmentor, from the abs detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.abs}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-abs_1xb4-demo_shapes'))

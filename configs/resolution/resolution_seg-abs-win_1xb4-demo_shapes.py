# Resolution study (docs/resolution.md): the abs_win segmentor, from the abs_win detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.abs_win}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-abs-win_1xb4-demo_shapes'))

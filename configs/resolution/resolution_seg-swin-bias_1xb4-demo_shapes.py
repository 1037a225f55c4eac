# Resolution study (docs/resolution.md): the swin_bias segmentor, from the swin_bias detector.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.swin_bias}},
             init_cfg=dict(checkpoint='work_dirs/resolution_det-swin-bias_1xb4-demo_shapes'))

# Resolution study (docs/resolution.md), swin_bias family, detection.
_base_ = ['./_base_/study_det.py']
model = dict(backbone={{_base_.families.swin_bias}})

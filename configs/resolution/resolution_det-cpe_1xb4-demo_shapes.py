# Resolution study (docs/resolution.md), cpe family, detection.
_base_ = ['./_base_/study_det.py']
model = dict(backbone={{_base_.families.cpe}})

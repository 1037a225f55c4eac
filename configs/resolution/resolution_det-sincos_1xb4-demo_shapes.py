# Resolution study (docs/resolution.md), sincos family, detection.
_base_ = ['./_base_/study_det.py']
model = dict(backbone={{_base_.families.sincos}})

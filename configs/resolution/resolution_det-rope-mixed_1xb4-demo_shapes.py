# Resolution study (docs/resolution.md), rope_mixed family, detection.
_base_ = ['./_base_/study_det.py']
model = dict(backbone={{_base_.families.rope_mixed}})

# Resolution study (docs/resolution.md), rope_mixed family, segmentation.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.rope_mixed}})

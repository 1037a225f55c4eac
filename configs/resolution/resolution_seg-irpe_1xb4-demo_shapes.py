# Resolution study (docs/resolution.md), irpe family, segmentation.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.irpe}})

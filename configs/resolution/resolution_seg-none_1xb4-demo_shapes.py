# Resolution study (docs/resolution.md), none family, segmentation.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.none}})

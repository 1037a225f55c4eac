# Resolution study (docs/resolution.md), swin_bias family, segmentation.
_base_ = ['./_base_/study_seg.py']
model = dict(backbone={{_base_.families.swin_bias}})

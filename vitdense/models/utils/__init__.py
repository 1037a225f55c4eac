from .box_ops import (
    aligned_giou,
    aligned_iou,
    box_area,
    box_cxcywh_to_xyxy,
    box_iou,
    box_xyxy_to_cxcywh,
    generalized_box_iou,
)
from .box_rescale import clip_boxes_, rescale_boxes
from .det_postprocess import nms_postprocess
from .dist import mean_over_ranks
from .ms_deform_attn import level_shapes, multi_scale_deformable_attn
from .nms import batched_nms, nms
from .point_generator import level_points
from .pretrained_init import PretrainedInit

__all__ = [
    'aligned_giou', 'aligned_iou', 'batched_nms', 'box_area', 'box_cxcywh_to_xyxy', 'box_iou',
    'box_xyxy_to_cxcywh', 'clip_boxes_', 'generalized_box_iou', 'level_points', 'level_shapes',
    'mean_over_ranks', 'multi_scale_deformable_attn', 'nms', 'nms_postprocess', 'PretrainedInit',
    'rescale_boxes',
]

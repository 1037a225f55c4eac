"""The DETR family: DETR, Deformable DETR and DINO heads, with their shared Hungarian matcher,
set criterion, denoising queries and NMS-free post-processing."""
from .criterion import SetCriterion
from .deformable_detr_head import DeformableDETRHead
from .denoising import cdn_queries
from .detr_head import DETRHead
from .dino_head import DINOHead
from .matcher import HungarianMatcher
from .postprocess import boxes_to_image, detr_postprocess, topk_queries

__all__ = ['DETRHead', 'DINOHead', 'DeformableDETRHead', 'HungarianMatcher', 'SetCriterion',
           'boxes_to_image', 'cdn_queries', 'detr_postprocess', 'topk_queries']

"""The DETR family's shared parts: Hungarian matcher, set criterion, NMS-free post-processing."""
from .criterion import SetCriterion
from .matcher import HungarianMatcher
from .postprocess import boxes_to_image, detr_postprocess, topk_queries

__all__ = ['HungarianMatcher', 'SetCriterion', 'boxes_to_image', 'detr_postprocess',
           'topk_queries']

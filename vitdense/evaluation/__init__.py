"""Evaluation metrics: COCO box mAP and semantic-segmentation mIoU."""
from vitdense.evaluation.coco_metric import CocoMetric
from vitdense.evaluation.iou_metric import IoUMetric

__all__ = ['CocoMetric', 'IoUMetric']

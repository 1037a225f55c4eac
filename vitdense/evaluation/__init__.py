"""Evaluation metrics: COCO box mAP, semantic-segmentation mIoU and classification accuracy."""
from vitdense.evaluation.accuracy import Accuracy
from vitdense.evaluation.coco_metric import CocoMetric
from vitdense.evaluation.iou_metric import IoUMetric

__all__ = ['Accuracy', 'CocoMetric', 'IoUMetric']

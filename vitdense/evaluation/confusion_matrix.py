"""Confusion matrices of detections (mmdet's ``confusion_matrix.py`` semantics) and of
segmentation pixels, with rows = ground truth and columns = prediction.

Detection, per image (mmdet 3.x ``analyze_per_img_dets``): every prediction scoring at least
``score_thr`` is compared with every ground-truth box; each ground-truth box it overlaps with
IoU >= ``iou_thr`` adds one to (that box's class, the predicted class), a true positive when the
classes agree. A prediction that overlaps no ground-truth box is a false positive counted in the
background row (last); a ground-truth box that no prediction of its class overlaps is a false
negative counted in the background column (last). One addition: a prediction that overlaps no
real box but an ignored one (COCO ``iscrowd``, the shapes' hidden objects) is not counted, as
COCO evaluation ignores it; without ignored boxes the counts are mmdet's.

Segmentation: ``matrix[g, p]`` counts the pixels labelled ``g`` predicted ``p``; pixels labelled
``ignore_index`` are left out.
"""
import csv
import os
import os.path as osp
from typing import Sequence

import numpy as np
import torch

from vitdense.models.utils.box_ops import box_iou


def _boxes(values) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32).reshape(-1, 4))


def add_detections(matrix: np.ndarray, gt_bboxes, gt_labels, pred_bboxes, pred_scores,
                   pred_labels, score_thr: float = 0.3, iou_thr: float = 0.5,
                   ignored_bboxes=None) -> None:
    """Add one image's detections to ``matrix`` ((C + 1) x (C + 1), last = background).

    Args:
        gt_bboxes: (G, 4) xyxy, gt_labels: (G,) ground truth in original-image pixels.
        pred_bboxes: (P, 4) xyxy, pred_scores: (P,), pred_labels: (P,) the predictions.
        ignored_bboxes: (I, 4) xyxy ground truth to ignore (crowd), or None.
    """
    background = matrix.shape[0] - 1
    gt_labels = np.asarray(gt_labels, dtype=np.int64).reshape(-1)
    keep = np.asarray(pred_scores, dtype=np.float32).reshape(-1) >= score_thr
    pred_labels = np.asarray(pred_labels, dtype=np.int64).reshape(-1)[keep]
    pred = _boxes(pred_bboxes)[torch.from_numpy(keep)]
    ious = box_iou(pred, _boxes(gt_bboxes)).numpy()  # (P, G)
    ignored = _boxes(ignored_bboxes if ignored_bboxes is not None else [])
    ignored_ious = box_iou(pred, ignored).numpy()  # (P, I)
    matched = ious >= iou_thr  # (P, G)
    for i, label in enumerate(pred_labels):
        for j in np.nonzero(matched[i])[0]:
            matrix[gt_labels[j], label] += 1
        if not matched[i].any() and not (ignored_ious[i] >= iou_thr).any():
            matrix[background, label] += 1  # a false positive on background
    found = (matched & (pred_labels[:, None] == gt_labels[None, :])).any(axis=0)  # (G,)
    for label in gt_labels[~found]:
        matrix[label, background] += 1  # a false negative


def add_segmentation(matrix: np.ndarray, gt: np.ndarray, pred: np.ndarray,
                     ignore_index: int = 255) -> None:
    """Add one image's pixels to ``matrix`` (C x C): ``gt`` and ``pred`` are (H, W) labels."""
    num = matrix.shape[0]
    gt, pred = np.asarray(gt).reshape(-1), np.asarray(pred).reshape(-1)
    if gt.shape != pred.shape:
        raise ValueError(f'The label map has {gt.size} pixels but the prediction {pred.size}: '
                         'predictions must be at the original image size.')
    valid = gt != ignore_index
    matrix += np.bincount(gt[valid].astype(np.int64) * num + pred[valid].astype(np.int64),
                          minlength=num * num).reshape(num, num)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row as percentages of its sum (a row without ground truth stays 0)."""
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(100.0 * matrix, sums, out=np.zeros(matrix.shape), where=sums > 0)


def write_confusion_csv(matrix: np.ndarray, labels: Sequence[str], path: str) -> None:
    """The counts as CSV: a header of predicted labels, then a row per ground-truth label."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['ground truth \\ prediction', *labels])
        for label, row in zip(labels, matrix):
            writer.writerow([label, *(int(v) for v in row)])

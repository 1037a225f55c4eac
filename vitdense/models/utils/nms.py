"""Greedy non-maximum suppression in plain torch (no compiled ops).

The result equals the standard greedy algorithm (torchvision's and mmcv's ``nms``) exactly: boxes
are visited in descending score order (stable sort, so equal scores keep index order), a box is
kept unless a kept box visited before it overlaps it with IoU strictly above the threshold, and
IoU is computed with the same float32 operations as torchvision's CPU kernel.

Speed comes from three things: overlaps are computed as a matrix, one block of rows (boxes still
alive) at a time; the greedy decisions inside a block are resolved by a fixed-point iteration on
the block's suppression matrix instead of a Python loop per box; boxes of later blocks that a kept
box suppresses are dropped before their rows are ever computed. Class-aware NMS groups boxes by
category first, so a block only meets the boxes of its own categories.
"""
from typing import Optional

import torch
from torch import Tensor

_BLOCK = 128


def _pairwise_overlap(rows: Tensor, cols: Tensor) -> Tensor:
    """IoU of (R, 4) boxes against (C, 4) boxes, (R, C), with torchvision's float ops."""
    area_r = (rows[:, 2] - rows[:, 0]) * (rows[:, 3] - rows[:, 1])
    area_c = (cols[:, 2] - cols[:, 0]) * (cols[:, 3] - cols[:, 1])
    w = (torch.minimum(rows[:, None, 2], cols[None, :, 2])
         - torch.maximum(rows[:, None, 0], cols[None, :, 0])).clamp(min=0)  # (R, C)
    h = (torch.minimum(rows[:, None, 3], cols[None, :, 3])
         - torch.maximum(rows[:, None, 1], cols[None, :, 1])).clamp(min=0)  # (R, C)
    inter = w * h
    return inter / (area_r[:, None] + area_c[None, :] - inter)


def _greedy_within_block(suppress: Tensor) -> Tensor:
    """Greedy keep mask of R boxes in score order, given who would suppress whom.

    Args:
        suppress: (R, R) bool, ``suppress[i, j]`` true when box i would suppress box j (only
            ``i < j`` is read).

    Returns:
        (R,) bool: ``keep[j] = not any(keep[i] and suppress[i, j] for i < j)``. That recursion has
        exactly one solution; iterating it from all-true fixes one more leading position per step
        at least, so it stops after at most R steps (usually a handful).
    """
    suppress = suppress.triu(diagonal=1)
    keep = torch.ones(suppress.shape[0], dtype=torch.bool, device=suppress.device)
    for _ in range(suppress.shape[0]):
        new_keep = ~(suppress & keep[:, None]).any(dim=0)
        if torch.equal(new_keep, keep):
            break
        keep = new_keep
    return keep


def _greedy_nms(boxes: Tensor, scores: Tensor, iou_threshold: float,
                idxs: Optional[Tensor]) -> Tensor:
    """Greedy NMS; with ``idxs`` only boxes of the same category suppress each other."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices  # (N,) visiting order
    num = order.shape[0]
    cats, run_end = None, None
    if idxs is not None:
        # Group by category (score order kept inside each group), so that a block of rows only
        # meets the columns of its own categories.
        order = order[torch.sort(idxs[order], stable=True).indices]  # (N,)
        cats = idxs[order]  # (N,) ascending
        run_end = torch.searchsorted(cats, cats, right=True)  # (N,) end of each box's group
    boxes = boxes[order]
    alive = torch.ones(num, dtype=torch.bool, device=boxes.device)
    keep = torch.zeros(num, dtype=torch.bool, device=boxes.device)
    for start in range(0, num, _BLOCK):
        stop = min(start + _BLOCK, num)
        limit = num if run_end is None else int(run_end[stop - 1])
        rows = start + torch.nonzero(alive[start:stop]).squeeze(1)  # (R,) still-alive boxes
        if rows.numel() == 0:
            continue
        cols = start + torch.nonzero(alive[start:limit]).squeeze(1)  # (C,) rows first, then later
        suppress = _pairwise_overlap(boxes[rows], boxes[cols]) > iou_threshold  # (R, C)
        if cats is not None:
            suppress &= cats[rows][:, None] == cats[cols][None, :]
        num_rows = rows.shape[0]
        block_keep = _greedy_within_block(suppress[:, :num_rows])  # (R,)
        keep[rows[block_keep]] = True
        later = suppress[block_keep, num_rows:].any(dim=0)  # (C - R,)
        alive[cols[num_rows:][later]] = False
    kept = order[keep]  # (K,)
    if idxs is not None:  # back to global score order, ties by index
        kept = kept.sort().values
        kept = kept[torch.sort(scores[kept], descending=True, stable=True).indices]
    return kept


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression.

    Args:
        boxes: (N, 4) xyxy.
        scores: (N,).
        iou_threshold: a box is dropped when a higher-scored kept box has IoU above this.

    Returns:
        (K,) long indices of the kept boxes, by decreasing score (ties: lower index first).
    """
    return _greedy_nms(boxes, scores, iou_threshold, None)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """Class-aware NMS: boxes suppress only boxes with the same ``idxs`` value.

    Equal to running :func:`nms` per category and merging by score. Instead of the usual
    coordinate-offset trick (which shifts boxes far apart and so rounds their coordinates), the
    suppression matrix is masked by category equality, which keeps the result exact.

    Args:
        boxes: (N, 4) xyxy.
        scores: (N,).
        idxs: (N,) integer category of each box.
        iou_threshold: IoU above which a lower-scored box of the same category is dropped.

    Returns:
        (K,) long indices of the kept boxes, by decreasing score (ties: lower index first).
    """
    return _greedy_nms(boxes, scores, iou_threshold, idxs)

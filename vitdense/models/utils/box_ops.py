"""Box geometry: areas, pairwise and aligned (G)IoU, format conversion.

Boxes are ``(..., 4)`` tensors, ``xyxy`` unless the name says ``cxcywh``. Generalized IoU follows
Rezatofighi et al. 2019, "Generalized Intersection over Union" (arXiv 1902.09630).
"""
import torch
from torch import Tensor


def box_area(boxes: Tensor) -> Tensor:
    """Area of ``xyxy`` boxes.

    Args:
        boxes: (..., 4) xyxy.

    Returns:
        (...,) areas; negative widths or heights are not clamped.
    """
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    """(..., 4) xyxy -> (..., 4) center x, center y, width, height."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def box_cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    """(..., 4) center x, center y, width, height -> (..., 4) xyxy."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)


def _pairwise_inter_union(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Intersection and union areas of every pair: (N, 4), (M, 4) -> (N, M), (N, M)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])  # (N, M, 2)
    wh = (rb - lt).clamp(min=0)  # (N, M, 2)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter, union


def box_iou(a: Tensor, b: Tensor, eps: float = 0.0) -> Tensor:
    """IoU of every pair of boxes.

    Args:
        a: (N, 4) xyxy.
        b: (M, 4) xyxy.
        eps: lower bound of the union (0 keeps ``0 / 0 = nan`` for two empty boxes).

    Returns:
        (N, M) IoU.
    """
    inter, union = _pairwise_inter_union(a, b)
    if eps > 0:
        union = union.clamp(min=eps)
    return inter / union


def generalized_box_iou(a: Tensor, b: Tensor, eps: float = 0.0) -> Tensor:
    """Generalized IoU of every pair of boxes, in [-1, 1].

    Args:
        a: (N, 4) xyxy.
        b: (M, 4) xyxy.
        eps: lower bound of the union and of the enclosing area.

    Returns:
        (N, M) GIoU.
    """
    inter, union = _pairwise_inter_union(a, b)
    if eps > 0:
        union = union.clamp(min=eps)
    lt = torch.minimum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    rb = torch.maximum(a[:, None, 2:], b[None, :, 2:])  # (N, M, 2)
    wh = (rb - lt).clamp(min=0)  # (N, M, 2)
    enclose = wh[..., 0] * wh[..., 1]
    if eps > 0:
        enclose = enclose.clamp(min=eps)
    return inter / union - (enclose - union) / enclose


def _aligned_inter_union(a: Tensor, b: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """(N,) intersection and union (at least ``eps``) of corresponding xyxy boxes."""
    lt = torch.maximum(a[:, :2], b[:, :2])  # (N, 2)
    rb = torch.minimum(a[:, 2:], b[:, 2:])  # (N, 2)
    wh = (rb - lt).clamp(min=0)  # (N, 2)
    inter = wh[:, 0] * wh[:, 1]
    return inter, (box_area(a) + box_area(b) - inter).clamp(min=eps)


def aligned_iou(a: Tensor, b: Tensor, eps: float = 1e-6) -> Tensor:
    """IoU of corresponding boxes (``a[i]`` with ``b[i]``): (N, 4) xyxy twice -> (N,)."""
    inter, union = _aligned_inter_union(a, b, eps)
    return inter / union


def aligned_giou(a: Tensor, b: Tensor, eps: float = 1e-6) -> Tensor:
    """Generalized IoU of corresponding boxes (``a[i]`` with ``b[i]``).

    Args:
        a: (N, 4) xyxy.
        b: (N, 4) xyxy.
        eps: lower bound of the union and of the enclosing area (keeps degenerate boxes finite).

    Returns:
        (N,) GIoU.
    """
    inter, union = _aligned_inter_union(a, b, eps)
    enclose_wh = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2]))  # (N, 2)
    enclose_wh = enclose_wh.clamp(min=0)
    enclose = (enclose_wh[:, 0] * enclose_wh[:, 1]).clamp(min=eps)
    return inter / union - (enclose - union) / enclose

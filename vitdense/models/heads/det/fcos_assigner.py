"""FCOS's target assignment: which GT box, if any, each feature-map point regresses."""
from typing import Optional, Sequence

import torch
from torch import Tensor

from vitdense.registry import TASK_UTILS
from vitdense.structures import DetDataSample

INF = 1e8
# Upper bound of the (images x points x boxes) elements handled at once when building targets.
TARGET_CHUNK = 1 << 22


def ltrb_to_box(distances: Tensor) -> Tensor:
    """(N, 4) distances (left, top, right, bottom) from a point -> (N, 4) xyxy around (0, 0)."""
    return torch.cat((-distances[:, :2], distances[:, 2:]), dim=-1)


def centerness_target(distances: Tensor) -> Tensor:
    """FCOS centerness ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``: (N, 4) -> (N,)."""
    left_right = distances[:, [0, 2]]  # (N, 2)
    top_bottom = distances[:, [1, 3]]  # (N, 2)
    ratio_x = left_right.amin(-1) / left_right.amax(-1)
    ratio_y = top_bottom.amin(-1) / top_bottom.amax(-1)
    return (ratio_x * ratio_y).clamp(min=0).sqrt()


def default_regress_ranges(strides: Sequence[int]) -> list[tuple[float, float]]:
    """mmdet's FCOS ranges: high = 8 x stride (the next level's low), the last level unbounded;
    (-1, 64), (64, 128), ... for strides 8, 16, ..."""
    highs = [8.0 * s for s in strides[:-1]] + [INF]
    return list(zip([-1.0] + highs[:-1], highs))


@TASK_UTILS.register_module()
class FCOSAssigner:
    """Assigns every point of every image to at most one GT box, batched over images.

    Tian et al. 2019, "FCOS: Fully Convolutional One-Stage Object Detection" (arXiv 1904.01355).
    A point is positive for the smallest GT box that contains it (within
    ``center_sample_radius * stride`` of the box centre when center sampling) and whose largest
    side distance falls in the point's level regression range.

    Args:
        num_classes: number of object classes; the background label is ``num_classes``.
        strides: stride of each level, fine to coarse.
        regress_ranges: per level (low, high) limits of a positive's largest side distance in
            pixels; None gives :func:`default_regress_ranges`.
        center_sampling: positives only near the GT box centre.
        center_sample_radius: that radius, in strides.
        norm_on_bbox: distance targets in strides (else pixels).
    """

    def __init__(self, num_classes: int, strides: Sequence[int],
                 regress_ranges: Optional[Sequence[tuple[float, float]]] = None,
                 center_sampling: bool = True, center_sample_radius: float = 1.5,
                 norm_on_bbox: bool = True) -> None:
        if regress_ranges is None:
            regress_ranges = default_regress_ranges(strides)
        if len(regress_ranges) != len(strides):
            raise ValueError(f'FCOSAssigner: {len(regress_ranges)} regress_ranges for '
                             f'{len(strides)} levels (strides {list(strides)}); give one '
                             '(low, high) pair per level or None')
        self.num_classes = num_classes
        self.strides = list(strides)
        self.regress_ranges = [(float(lo), float(hi)) for lo, hi in regress_ranges]
        self.center_sampling = center_sampling
        self.center_sample_radius = center_sample_radius
        self.norm_on_bbox = norm_on_bbox

    @torch.no_grad()
    def __call__(self, points: list[Tensor],
                 data_samples: Sequence[DetDataSample]) -> tuple[Tensor, Tensor]:
        """Targets of a batch.

        Args:
            points: per level (P_l, 2) xy points in input pixels.
            data_samples: one per image with ``gt_instances.bboxes`` (N, 4) xyxy and
                ``gt_instances.labels`` (N,).

        Returns:
            labels: (B, P) class of each point, ``num_classes`` for background.
            bbox_targets: (B, P, 4) (left, top, right, bottom) distances, in strides when
                ``norm_on_bbox``; zero for background.
        """
        all_points = torch.cat(points)  # (P, 2)
        device, num_points = all_points.device, all_points.shape[0]
        ranges = torch.cat([all_points.new_tensor(r).expand(len(p), 2)
                            for r, p in zip(self.regress_ranges, points)])  # (P, 2)
        strides = torch.cat([all_points.new_full((len(p),), float(s))
                             for s, p in zip(self.strides, points)])  # (P,)
        gts = [ds.gt_instances for ds in data_samples]
        max_gts = max((len(g) for g in gts), default=0)
        labels = torch.full((len(gts), num_points), self.num_classes, dtype=torch.long,
                            device=device)
        bbox_targets = all_points.new_zeros((len(gts), num_points, 4))
        if max_gts == 0:
            return labels, bbox_targets
        # Pad the GT of every image to max_gts boxes: (B, G, 4), (B, G), (B, G).
        gt_boxes = all_points.new_zeros((len(gts), max_gts, 4))
        gt_labels = torch.zeros((len(gts), max_gts), dtype=torch.long, device=device)
        gt_valid = torch.zeros((len(gts), max_gts), dtype=torch.bool, device=device)
        for i, g in enumerate(gts):
            if len(g) == 0:
                continue
            gt_boxes[i, :len(g)] = torch.as_tensor(g.bboxes, dtype=torch.float, device=device)
            gt_labels[i, :len(g)] = torch.as_tensor(g.labels, device=device).long()
            gt_valid[i, :len(g)] = True
        chunk = max(1, TARGET_CHUNK // (num_points * max_gts))
        for start in range(0, len(gts), chunk):
            part = slice(start, start + chunk)
            labels[part], bbox_targets[part] = self._assign(
                all_points, ranges, strides, gt_boxes[part], gt_labels[part], gt_valid[part])
        return labels, bbox_targets

    def _assign(self, points: Tensor, ranges: Tensor, strides: Tensor, gt_boxes: Tensor,
                gt_labels: Tensor, gt_valid: Tensor) -> tuple[Tensor, Tensor]:
        """Targets of b images: points (P, 2), ranges (P, 2), strides (P,), padded GT
        (b, G, 4), (b, G), (b, G) -> labels (b, P), distances (b, P, 4)."""
        xs, ys = points[None, :, 0, None], points[None, :, 1, None]  # (1, P, 1)
        x1, y1, x2, y2 = (gt_boxes[:, None, :, i] for i in range(4))  # (b, 1, G) each
        distances = torch.stack((xs - x1, ys - y1, x2 - xs, y2 - ys), dim=-1)  # (b, P, G, 4)
        if self.center_sampling:
            radius = (strides * self.center_sample_radius)[None, :, None]  # (1, P, 1)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2  # (b, 1, G)
            # The centre region, clipped to the box: (b, P, G) each.
            cx1, cy1 = torch.maximum(cx - radius, x1), torch.maximum(cy - radius, y1)
            cx2, cy2 = torch.minimum(cx + radius, x2), torch.minimum(cy + radius, y2)
            inside = torch.stack((xs - cx1, ys - cy1, cx2 - xs, cy2 - ys), -1).amin(-1) > 0
        else:
            inside = distances.amin(-1) > 0  # (b, P, G)
        max_dist = distances.amax(-1)  # (b, P, G)
        in_range = (max_dist >= ranges[None, :, 0, None]) & (max_dist <= ranges[None, :, 1, None])
        areas = ((x2 - x1) * (y2 - y1)).expand_as(max_dist)  # (b, P, G)
        areas = areas.masked_fill(~(inside & in_range & gt_valid[:, None, :]), INF)
        min_area, best = areas.min(dim=-1)  # (b, P) each
        labels = gt_labels.gather(1, best).masked_fill(min_area == INF, self.num_classes)
        index = best[..., None, None].expand(-1, -1, 1, 4)  # (b, P, 1, 4)
        targets = distances.gather(2, index).squeeze(2)  # (b, P, 4)
        targets = targets.masked_fill((min_area == INF)[..., None], 0.0)
        if self.norm_on_bbox:
            targets = targets / strides[None, :, None]
        return labels, targets

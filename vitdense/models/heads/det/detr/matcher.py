"""Hungarian matching of queries to ground-truth boxes, the set assignment of the DETR family."""
from typing import Sequence

import torch
from torch import Tensor

from vitdense.models.utils import box_cxcywh_to_xyxy, generalized_box_iou
from vitdense.registry import TASK_UTILS

CLASS_COST_TYPES = ('focal', 'ce')
_GIOU_EPS = 1e-6  # lower bound of union and enclosing areas: degenerate boxes stay finite
_FOCAL_EPS = 1e-8  # inside the logs of the focal cost, as Deformable DETR


def _check_targets(targets: Sequence[dict], batch: int) -> None:
    """Raise naming the image and key when ``targets`` are not B dicts of labels and boxes."""
    if len(targets) != batch:
        raise ValueError(f'HungarianMatcher: {len(targets)} target dicts for a batch of {batch} '
                         'images; pass one dict(labels, boxes) per image')
    for i, target in enumerate(targets):
        for key in ('labels', 'boxes'):
            if key not in target:
                raise KeyError(f'HungarianMatcher: target {i} has no {key!r} (has '
                               f'{sorted(target)}); give labels (N,) and boxes (N, 4) normalised '
                               'cxcywh')
        labels, boxes = target['labels'], target['boxes']
        if boxes.dim() != 2 or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:1]:
            raise ValueError(f'HungarianMatcher: target {i} has labels {tuple(labels.shape)} and '
                             f'boxes {tuple(boxes.shape)}; expected (N,) and (N, 4)')


def _check_labels(labels: Tensor, num_classes: int) -> None:
    """Raise when the concatenated (T,) labels leave [0, num_classes) (one device sync)."""
    low, high = torch.aminmax(labels)
    if not 0 <= int(low) <= int(high) < num_classes:
        raise ValueError(f'HungarianMatcher: target labels lie in [{int(low)}, {int(high)}] but '
                         f'the predictions score {num_classes} classes; labels must lie in '
                         f'[0, {num_classes})')


def _checked(name: str, cost: Tensor) -> Tensor:
    """``cost``, after raising naming the cost term when it holds NaN or inf."""
    bad = ~torch.isfinite(cost)
    if bad.any():
        raise ValueError(f'HungarianMatcher: the {name} cost has {int(bad.sum())} non-finite '
                         f'entries (NaN or inf) out of {cost.numel()}; the predictions or the '
                         'targets are not finite (a diverged model, or boxes that are not '
                         'normalised cxcywh with w, h >= 0). Lower the learning rate, enable '
                         'gradient clipping, or check the dataset boxes.')
    return cost


@TASK_UTILS.register_module()
class HungarianMatcher:
    """One-to-one assignment of queries to targets with the least total cost.

    DETR (Carion et al. 2020, "End-to-End Object Detection with Transformers", arXiv 2005.12872)
    and Deformable DETR (Zhu et al. 2021, "Deformable DETR: Deformable Transformers for End-to-End
    Object Detection", arXiv 2010.04159). The cost of query q and target t is
    ``cost_class * C_cls + cost_bbox * |b_q - b_t|_1 + cost_giou * -GIoU(b_q, b_t)`` on normalised
    cxcywh boxes, with

    - ``class_cost_type='ce'`` (DETR): ``C_cls = -softmax(logits)[label]`` over K + 1 logits;
    - ``class_cost_type='focal'`` (Deformable DETR, DINO): on ``p = sigmoid(logits)[label]``,
      ``C_cls = alpha (1 - p)^gamma (-log p) - (1 - alpha) p^gamma (-log(1 - p))``.

    The costs of all images against all targets of the batch are computed at once in float32
    without gradients, moved to the CPU once, split per image and solved there with
    ``scipy.optimize.linear_sum_assignment``. Every entry depends only on its own (query, target)
    pair, so the batched result equals matching each image alone.

    Ties: the solver is a deterministic function of the cost matrix (no randomness), and the
    batched costs equal the per-image ones bit for bit, so the same inputs always give the same
    matching. Among equally cheap assignments scipy's shortest-augmenting-path search returns the
    one it reaches first; for identical queries that is the lowest query indices (pinned by a
    test). Pairs are returned sorted by query index.

    Args:
        cost_class: weight of the classification cost.
        cost_bbox: weight of the L1 box cost.
        cost_giou: weight of the (negative) GIoU cost.
        class_cost_type: ``'focal'`` or ``'ce'``, as above.
        focal_alpha: alpha of the focal cost.
        focal_gamma: gamma of the focal cost.
    """

    def __init__(self, cost_class: float = 1.0, cost_bbox: float = 1.0, cost_giou: float = 1.0,
                 class_cost_type: str = 'focal', focal_alpha: float = 0.25,
                 focal_gamma: float = 2.0) -> None:
        if class_cost_type not in CLASS_COST_TYPES:
            raise ValueError(f'HungarianMatcher: class_cost_type must be one of '
                             f'{CLASS_COST_TYPES}, got {class_cost_type!r}')
        if cost_class == 0 and cost_bbox == 0 and cost_giou == 0:
            raise ValueError('HungarianMatcher: cost_class, cost_bbox and cost_giou are all 0; '
                             'give at least one a positive weight')
        self.cost_class = cost_class
        self.cost_bbox = cost_bbox
        self.cost_giou = cost_giou
        self.class_cost_type = class_cost_type
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma

    def class_cost(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Classification cost: (M, K) logits, (T,) labels -> (M, T)."""
        if self.class_cost_type == 'ce':
            return -logits.softmax(-1)[:, labels]  # (M, T)
        prob = logits.sigmoid()[:, labels]  # (M, T)
        alpha, gamma = self.focal_alpha, self.focal_gamma
        pos = alpha * (1 - prob) ** gamma * -(prob + _FOCAL_EPS).log()
        neg = (1 - alpha) * prob ** gamma * -(1 - prob + _FOCAL_EPS).log()
        return pos - neg

    @torch.no_grad()
    def cost_matrix(self, pred_logits: Tensor, pred_boxes: Tensor, labels: Tensor,
                    boxes: Tensor) -> Tensor:
        """Weighted total cost of every query against every target, in float32.

        Args:
            pred_logits: (M, K) logits of M queries.
            pred_boxes: (M, 4) normalised cxcywh.
            labels: (T,) target labels.
            boxes: (T, 4) normalised cxcywh targets.

        Returns:
            (M, T) cost; raises naming the term when one is not finite.
        """
        pred_boxes, boxes = pred_boxes.float(), boxes.float()
        total = pred_boxes.new_zeros(pred_boxes.shape[0], boxes.shape[0])  # (M, T)
        if self.cost_class:
            cost = _checked('class', self.class_cost(pred_logits.float(), labels))
            total = total + self.cost_class * cost
        if self.cost_bbox:
            cost = _checked('bbox (L1)', torch.cdist(pred_boxes, boxes, p=1))
            total = total + self.cost_bbox * cost
        if self.cost_giou:
            giou = generalized_box_iou(box_cxcywh_to_xyxy(pred_boxes), box_cxcywh_to_xyxy(boxes),
                                       eps=_GIOU_EPS)  # (M, T)
            total = total + self.cost_giou * -_checked('giou', giou)
        return total

    @torch.no_grad()
    def __call__(self, pred_logits: Tensor, pred_boxes: Tensor,
                 targets: Sequence[dict]) -> list[tuple[Tensor, Tensor]]:
        """Match each image's queries to its targets.

        Args:
            pred_logits: (B, Q, K) class logits (K + 1 with the no-object logit last for
                ``'ce'``).
            pred_boxes: (B, Q, 4) normalised cxcywh.
            targets: B dicts with ``labels`` (N_b,) and ``boxes`` (N_b, 4) normalised cxcywh.

        Returns:
            B pairs ``(query_idx, target_idx)`` of int64 CPU tensors of length ``min(Q, N_b)``,
            sorted by query index; empty for an image without targets.
        """
        batch, num_queries, num_logits = pred_logits.shape
        _check_targets(targets, batch)
        sizes = [len(t['labels']) for t in targets]
        empty = torch.empty(0, dtype=torch.int64)
        if sum(sizes) == 0:
            return [(empty, empty) for _ in sizes]
        labels = torch.cat([t['labels'] for t in targets]).to(pred_logits.device).long()  # (T,)
        boxes = torch.cat([t['boxes'] for t in targets]).to(pred_boxes.device)  # (T, 4)
        # 'ce' scores K real classes and the no-object class last.
        _check_labels(labels, num_logits - (self.class_cost_type == 'ce'))
        cost = self.cost_matrix(pred_logits.flatten(0, 1), pred_boxes.flatten(0, 1), labels,
                                boxes)  # (B * Q, T)
        cost = cost.view(batch, num_queries, -1).cpu()  # (B, Q, T)
        # imported here, not with the package: scipy.optimize is ~0.45 s of every tool's start-up
        from scipy.optimize import linear_sum_assignment
        matches = []
        for b, image_cost in enumerate(cost.split(sizes, dim=-1)):  # (B, Q, N_b) each
            if sizes[b] == 0:
                matches.append((empty, empty))
                continue
            rows, cols = linear_sum_assignment(image_cost[b].numpy())
            order = rows.argsort()
            matches.append((torch.as_tensor(rows[order], dtype=torch.int64),
                            torch.as_tensor(cols[order], dtype=torch.int64)))
        return matches

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cost_class={self.cost_class}, cost_bbox={self.cost_bbox}, '
                f'cost_giou={self.cost_giou}, class_cost_type={self.class_cost_type!r}, '
                f'focal_alpha={self.focal_alpha}, focal_gamma={self.focal_gamma})')

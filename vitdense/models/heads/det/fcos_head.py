"""FCOS: anchor-free dense detection head with centerness, mmdet 3.x semantics."""
import math
from typing import Optional, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from vitdense.models.utils import aligned_iou, level_points, mean_over_ranks, nms_postprocess
from vitdense.registry import MODELS, TASK_UTILS
from vitdense.structures import DetDataSample, ShapeSpec

from .fcos_assigner import centerness_target, ltrb_to_box


def _tower(in_channels: int, channels: int, num_convs: int, norm: Optional[str]) -> nn.Sequential:
    """``num_convs`` x (3x3 conv, optional GroupNorm(32), ReLU)."""
    layers: list[nn.Module] = []
    for i in range(num_convs):
        layers.append(nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1,
                                bias=norm is None))
        if norm == 'GN':
            layers.append(nn.GroupNorm(32, channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def fcos_candidates(probs: Tensor, distances: Tensor, centerness: Tensor, points: Tensor,
                    score_thr: float, nms_pre: int) -> tuple[Tensor, Tensor, Tensor]:
    """Decode one level of one image into at most ``nms_pre`` scored boxes.

    Args:
        probs: (P, K) class probabilities.
        distances: (P, 4) (left, top, right, bottom) distances in pixels.
        centerness: (P,) centerness probabilities.
        points: (P, 2) xy points in input pixels.
        score_thr: minimal class probability of a candidate.
        nms_pre: candidates kept, by decreasing class probability.

    Returns:
        boxes (M, 4) xyxy, scores (M,) = probability x centerness, labels (M,).
    """
    cand = torch.nonzero(probs > score_thr)  # (M, 2) point, class
    cand_scores = probs[cand[:, 0], cand[:, 1]]  # (M,)
    top = torch.sort(cand_scores, descending=True, stable=True).indices[:nms_pre]
    point_idx, cls_idx = cand[top, 0], cand[top, 1]
    pts, dist = points[point_idx], distances[point_idx]  # (M', 2), (M', 4)
    boxes = torch.cat((pts - dist[:, :2], pts + dist[:, 2:]), dim=-1)
    return boxes, cand_scores[top] * centerness[point_idx], cls_idx


def quality_targets(logits: Tensor, labels: Tensor, pos: Tensor, pos_distances: Tensor,
                    pos_targets: Tensor) -> Tensor:
    """Soft classification targets for a quality loss (GFL's QFL): (N, K), the IoU of each
    positive's predicted box (not back-propagated) with its ground truth at its class, else 0.

    Args:
        logits: (N, K) class logits (for the shape, dtype and device).
        labels: (N,) classes, K for background.
        pos: (N_pos,) indices of the positives.
        pos_distances, pos_targets: (N_pos, 4) predicted and target (left, top, right, bottom)
            distances of the positives, in the same unit.
    """
    targets = torch.zeros_like(logits)
    iou = aligned_iou(ltrb_to_box(pos_distances.detach().float()), ltrb_to_box(pos_targets))
    targets[pos, labels[pos]] = iou.clamp(min=0).to(targets.dtype)
    return targets


@MODELS.register_module()
class FCOSHead(nn.Module):
    """FCOS head: per-point class scores, box side distances and centerness on every level.

    Tian et al. 2019, "FCOS: Fully Convolutional One-Stage Object Detection" (arXiv 1904.01355),
    with the improvements mmdetection enables in its best configs (center sampling, distances
    normalised by the stride, centerness on the regression branch, GIoU loss).

    Points sit at cell centres, ``((j + 0.5) * s, (i + 0.5) * s)`` (the paper's
    ``s // 2 + j * s`` and mmdet's default point offset); targets come from
    :class:`FCOSAssigner`, detections from :func:`fcos_candidates` and :func:`nms_postprocess`.

    Args:
        num_classes: number of object classes (no background class).
        input_shape: the neck's ``output_shape()``: channels and stride of each map.
        in_features: keys of ``input_shape`` to use, finest first; they must share channels.
        feat_channels: width of the two conv towers.
        stacked_convs: convs per tower.
        norm: ``'GN'`` (GroupNorm with 32 groups) or None (conv bias instead).
        regress_ranges: per level (low, high) limits of a positive's largest side distance in
            pixels; None derives mmdet's ranges from the strides (high = 8 x stride, the next
            level's low; the last level unbounded), i.e. (-1, 64), (64, 128), ... for 8, 16, ...
        center_sampling: positives only near the GT box centre.
        center_sample_radius: that radius, in strides.
        norm_on_bbox: distances are predicted in strides (ReLU) instead of pixels (exp).
        centerness_on_reg: centerness from the regression tower (else the classification one).
        prior_prob: initial foreground probability of the classifier.
        loss_cls: config of the classification loss (a registered loss called as
            ``loss(logits (N, K), labels (N,), avg_factor=)``, background label K); None is
            ``dict(type='FocalLoss', alpha=0.25, gamma=2.0, loss_weight=1.0)``. A loss with
            ``quality_targets = True`` (``QualityFocalLoss``, GFL's) gets (N, K) soft targets
            instead: each positive's IoU at its class (:func:`quality_targets`).
        loss_bbox: config of the box loss on (N, 4) xyxy boxes with ``weight`` and
            ``avg_factor``; None is ``dict(type='GIoULoss', loss_weight=1.0)``.
        loss_centerness: config of the centerness loss; None is
            ``dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)``.
        score_thr: minimal class probability of a candidate at test time.
        nms_pre: candidates kept per level before NMS.
        nms_iou_thr: IoU threshold of the class-aware NMS (mmdet's FCOS configs use 0.5).
        max_per_img: detections kept per image.
        min_bbox_size: detections whose width or height is not above this are dropped.
    """

    def __init__(self, num_classes: int, input_shape: dict[str, ShapeSpec],
                 in_features: Sequence[str] = ('p3', 'p4', 'p5', 'p6'),
                 feat_channels: int = 256, stacked_convs: int = 4, norm: Optional[str] = 'GN',
                 regress_ranges: Optional[Sequence[tuple[float, float]]] = None,
                 center_sampling: bool = True, center_sample_radius: float = 1.5,
                 norm_on_bbox: bool = True, centerness_on_reg: bool = True,
                 prior_prob: float = 0.01, loss_cls: Optional[dict] = None,
                 loss_bbox: Optional[dict] = None, loss_centerness: Optional[dict] = None,
                 score_thr: float = 0.05, nms_pre: int = 1000, nms_iou_thr: float = 0.6,
                 max_per_img: int = 100, min_bbox_size: float = 0.0) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f'FCOSHead: num_classes must be >= 1, got {num_classes}')
        self.in_features = tuple(in_features)
        missing = [k for k in self.in_features if k not in input_shape]
        if missing:
            raise KeyError(f'FCOSHead: in_features {missing} not in the neck output '
                           f'{sorted(input_shape)}; set in_features to keys the neck provides')
        channels = {input_shape[k].channels for k in self.in_features}
        if len(channels) != 1:
            raise ValueError(f'FCOSHead: in_features {self.in_features} have different channels '
                             f'{[input_shape[k].channels for k in self.in_features]}; the head '
                             'shares its convs across levels, use a neck with one output width')
        self.strides = [input_shape[k].stride for k in self.in_features]
        if any(a >= b for a, b in zip(self.strides, self.strides[1:])):
            raise ValueError(f'FCOSHead: in_features {self.in_features} must go from fine to '
                             f'coarse, got strides {self.strides}')
        if norm not in ('GN', None):
            raise ValueError(f"FCOSHead: norm must be 'GN' or None, got {norm!r}")
        if norm == 'GN' and feat_channels % 32:
            raise ValueError(f'FCOSHead: norm="GN" uses 32 groups, feat_channels={feat_channels} '
                             'is not a multiple of 32; change feat_channels or set norm=None')
        self.assigner = TASK_UTILS.build(dict(
            type='FCOSAssigner', num_classes=num_classes, strides=self.strides,
            regress_ranges=regress_ranges, center_sampling=center_sampling,
            center_sample_radius=center_sample_radius, norm_on_bbox=norm_on_bbox))
        self.num_classes = num_classes
        self.norm_on_bbox = norm_on_bbox
        self.centerness_on_reg = centerness_on_reg
        self.score_thr = score_thr
        self.nms_pre = nms_pre
        self.nms_iou_thr = nms_iou_thr
        self.max_per_img = max_per_img
        self.min_bbox_size = min_bbox_size

        in_channels = channels.pop()
        self.cls_convs = _tower(in_channels, feat_channels, stacked_convs, norm)
        self.reg_convs = _tower(in_channels, feat_channels, stacked_convs, norm)
        tower_out = feat_channels if stacked_convs > 0 else in_channels
        self.conv_cls = nn.Conv2d(tower_out, num_classes, 3, padding=1)
        self.conv_reg = nn.Conv2d(tower_out, 4, 3, padding=1)
        self.conv_centerness = nn.Conv2d(tower_out, 1, 3, padding=1)
        self.scales = nn.Parameter(torch.ones(len(self.strides)))  # one learnable scale per level

        self.loss_cls = MODELS.build(loss_cls or dict(type='FocalLoss', alpha=0.25, gamma=2.0,
                                                      loss_weight=1.0))
        self.loss_bbox = MODELS.build(loss_bbox or dict(type='GIoULoss', loss_weight=1.0))
        self.loss_centerness = MODELS.build(loss_centerness or dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))
        self._init_weights(prior_prob)

    @property
    def regress_ranges(self) -> list[tuple[float, float]]:
        """Per level (low, high) pixel limits of a positive's largest side distance."""
        return self.assigner.regress_ranges

    def _init_weights(self, prior_prob: float) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, std=0.01)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.constant_(self.conv_cls.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: dict[str, Tensor],
                data_samples: Optional[Sequence[DetDataSample]] = None
                ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Predict on every level.

        Args:
            feats: neck maps keyed like ``in_features``, each (B, C, H_l, W_l).
            data_samples: not needed by FCOS (part of the head contract).

        Returns:
            cls_scores: per level (B, K, H_l, W_l) logits.
            bbox_preds: per level (B, 4, H_l, W_l) non-negative (left, top, right, bottom)
                distances, in units of the level stride when ``norm_on_bbox`` else in pixels.
            centernesses: per level (B, 1, H_l, W_l) logits.
        """
        cls_scores, bbox_preds, centernesses = [], [], []
        for level, key in enumerate(self.in_features):
            if key not in feats:
                raise KeyError(f'FCOSHead: feature {key!r} missing from the neck output '
                               f'{sorted(feats)}')
            cls_feat = self.cls_convs(feats[key])
            reg_feat = self.reg_convs(feats[key])
            cls_scores.append(self.conv_cls(cls_feat))
            bbox_pred = (self.scales[level] * self.conv_reg(reg_feat)).float()
            bbox_preds.append(bbox_pred.clamp(min=0) if self.norm_on_bbox else bbox_pred.exp())
            centernesses.append(self.conv_centerness(
                reg_feat if self.centerness_on_reg else cls_feat))
        return cls_scores, bbox_preds, centernesses

    def _points(self, cls_scores: list[Tensor]) -> list[Tensor]:
        """Per level (H_l * W_l, 2) xy cell centres in input pixels."""
        sizes = [tuple(s.shape[-2:]) for s in cls_scores]
        return level_points(sizes, self.strides, offset=0.5, device=cls_scores[0].device)

    def get_targets(self, points: list[Tensor],
                    data_samples: Sequence[DetDataSample]) -> tuple[Tensor, Tensor]:
        """labels (B, P) and distance targets (B, P, 4) of every point; see
        :class:`FCOSAssigner`."""
        return self.assigner(points, data_samples)

    def loss(self, feats: dict[str, Tensor],
             data_samples: Sequence[DetDataSample]) -> dict[str, Tensor]:
        """Forward and losses; see :meth:`loss_by_feat`."""
        return self.loss_by_feat(*self(feats, data_samples), data_samples)

    def loss_by_feat(self, cls_scores: list[Tensor], bbox_preds: list[Tensor],
                     centernesses: list[Tensor],
                     data_samples: Sequence[DetDataSample]) -> dict[str, Tensor]:
        """Classification, box and centerness losses, normalised by the number of positives.

        Args:
            cls_scores, bbox_preds, centernesses: outputs of :meth:`forward`.
            data_samples: one per image, with ``gt_instances.bboxes`` (N, 4) xyxy in the padded
                input frame and ``gt_instances.labels`` (N,); ``ignored_instances`` are not used
                (as in mmdet's FCOS).

        Returns:
            ``loss_cls``, ``loss_bbox``, ``loss_centerness`` scalars. Without positives the last
            two are zero (still connected to the graph).
        """
        num_images = cls_scores[0].shape[0]
        labels, bbox_targets = self.get_targets(self._points(cls_scores), data_samples)
        labels = labels.reshape(-1)  # (B * P,)
        bbox_targets = bbox_targets.reshape(-1, 4)  # (B * P, 4)
        # Per level (B, C, H, W) -> (B, H * W, C); levels concatenated -> (B * P, C).
        flat_cls = torch.cat([s.permute(0, 2, 3, 1).reshape(num_images, -1, self.num_classes)
                              for s in cls_scores], dim=1).reshape(-1, self.num_classes).float()
        flat_bbox = torch.cat([b.permute(0, 2, 3, 1).reshape(num_images, -1, 4)
                               for b in bbox_preds], dim=1).reshape(-1, 4)
        flat_ctr = torch.cat([c.reshape(num_images, -1) for c in centernesses],
                             dim=1).reshape(-1).float()  # (B, 1, H, W) -> (B, H * W) -> (B * P,)

        pos = torch.nonzero(labels < self.num_classes).squeeze(1)  # (N_pos,)
        num_pos = mean_over_ranks(torch.tensor(float(pos.numel()), device=pos.device))
        num_pos = num_pos.clamp(min=1.0)
        pos_bbox, pos_ctr = flat_bbox[pos], flat_ctr[pos]  # (N_pos, 4), (N_pos,)
        pos_targets = bbox_targets[pos]  # (N_pos, 4)
        cls_targets = labels
        if getattr(self.loss_cls, 'quality_targets', False):
            cls_targets = quality_targets(flat_cls, labels, pos, pos_bbox, pos_targets)
        loss_cls = self.loss_cls(flat_cls, cls_targets, avg_factor=num_pos)

        ctr_targets = centerness_target(pos_targets)  # (N_pos,)
        # Every rank takes part in this reduction, with or without positives of its own.
        ctr_denorm = mean_over_ranks(ctr_targets.sum()).clamp(min=1e-6)
        if pos.numel() == 0:  # zero, but still connected to every parameter
            return dict(loss_cls=loss_cls, loss_bbox=pos_bbox.sum(), loss_centerness=pos_ctr.sum())
        # GIoU is translation invariant: compare both boxes around the point at the origin.
        loss_bbox = self.loss_bbox(ltrb_to_box(pos_bbox), ltrb_to_box(pos_targets),
                                   weight=ctr_targets, avg_factor=ctr_denorm)
        loss_ctr = self.loss_centerness(pos_ctr, ctr_targets, avg_factor=num_pos)
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox, loss_centerness=loss_ctr)

    def predict(self, feats: dict[str, Tensor], data_samples: Sequence[DetDataSample],
                rescale: bool = True) -> list[InstanceData]:
        """Forward and post-processing; see :meth:`predict_by_feat`."""
        return self.predict_by_feat(*self(feats, data_samples), data_samples, rescale=rescale)

    def predict_by_feat(self, cls_scores: list[Tensor], bbox_preds: list[Tensor],
                        centernesses: list[Tensor], data_samples: Sequence[DetDataSample],
                        rescale: bool = True) -> list[InstanceData]:
        """Detections per image: top ``nms_pre`` per level, score x centerness, class-aware NMS.

        Args:
            cls_scores, bbox_preds, centernesses: outputs of :meth:`forward`.
            data_samples: one per image; metainfo ``img_shape`` (boxes are clipped to it) and,
                with ``rescale``, ``scale_factor`` (w, h) and ``ori_shape``.
            rescale: map boxes back to the original image (divide by ``scale_factor``, clip to
                ``ori_shape``); otherwise they stay in the input frame.

        Returns:
            Per image an InstanceData with ``bboxes`` (N, 4) xyxy, ``scores`` (N,) and
            ``labels`` (N,), N <= ``max_per_img``, by decreasing score.
        """
        points = self._points(cls_scores)
        results = []
        for i, sample in enumerate(data_samples):
            candidates = []
            for level, stride in enumerate(self.strides):
                # (K, H, W) -> (H * W, K); (4, H, W) -> (H * W, 4); (1, H, W) -> (H * W,)
                probs = cls_scores[level][i].permute(1, 2, 0).reshape(-1, self.num_classes)
                dist = bbox_preds[level][i].permute(1, 2, 0).reshape(-1, 4)
                ctr = centernesses[level][i].reshape(-1).float().sigmoid()
                candidates.append(fcos_candidates(
                    probs.float().sigmoid(), dist * stride if self.norm_on_bbox else dist, ctr,
                    points[level], self.score_thr, self.nms_pre))
            boxes, scores, labels = (torch.cat(parts) for parts in zip(*candidates))
            results.append(nms_postprocess(
                boxes, scores, labels, sample.metainfo, rescale, self.nms_iou_thr,
                self.max_per_img, self.min_bbox_size, owner='FCOSHead.predict'))
        return results

"""FCOS: anchor-free dense detection head with centerness, mmdet 3.x semantics."""
import math
from typing import Optional, Sequence

import torch
from mmengine.dist import all_reduce
from mmengine.structures import InstanceData
from torch import Tensor, nn

from vitdense.models.losses import CrossEntropyLoss, FocalLoss, GIoULoss
from vitdense.models.utils import batched_nms, level_points
from vitdense.registry import MODELS
from vitdense.structures import DetDataSample, ShapeSpec

INF = 1e8
# Upper bound of the (images x points x boxes) elements handled at once when building targets.
_TARGET_CHUNK = 1 << 22


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


def _ltrb_to_box(distances: Tensor) -> Tensor:
    """(N, 4) distances (left, top, right, bottom) from a point -> (N, 4) xyxy around (0, 0)."""
    return torch.cat((-distances[:, :2], distances[:, 2:]), dim=-1)


def centerness_target(distances: Tensor) -> Tensor:
    """FCOS centerness ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``: (N, 4) -> (N,)."""
    left_right = distances[:, [0, 2]]  # (N, 2)
    top_bottom = distances[:, [1, 3]]  # (N, 2)
    ratio_x = left_right.amin(-1) / left_right.amax(-1)
    ratio_y = top_bottom.amin(-1) / top_bottom.amax(-1)
    return (ratio_x * ratio_y).clamp(min=0).sqrt()


@MODELS.register_module()
class FCOSHead(nn.Module):
    """FCOS head: per-point class scores, box side distances and centerness on every level.

    Tian et al. 2019, "FCOS: Fully Convolutional One-Stage Object Detection" (arXiv 1904.01355),
    with the improvements mmdetection enables in its best configs (center sampling, distances
    normalised by the stride, centerness on the regression branch, GIoU loss).

    Points sit at cell centres, ``((j + 0.5) * s, (i + 0.5) * s)`` (the paper's
    ``s // 2 + j * s`` and mmdet's default point offset). A point is positive for the smallest GT
    box that contains it (within ``center_sample_radius * stride`` of the box centre when center
    sampling) and whose largest side distance falls in the point's level regression range.

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
        focal_alpha: focal-loss alpha.
        focal_gamma: focal-loss gamma.
        loss_cls_weight: weight of the focal loss.
        loss_bbox_weight: weight of the GIoU loss.
        loss_centerness_weight: weight of the centerness binary cross-entropy.
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
                 prior_prob: float = 0.01, focal_alpha: float = 0.25, focal_gamma: float = 2.0,
                 loss_cls_weight: float = 1.0, loss_bbox_weight: float = 1.0,
                 loss_centerness_weight: float = 1.0, score_thr: float = 0.05,
                 nms_pre: int = 1000, nms_iou_thr: float = 0.6, max_per_img: int = 100,
                 min_bbox_size: float = 0.0) -> None:
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
        if regress_ranges is None:
            highs = [8.0 * s for s in self.strides[:-1]] + [INF]
            regress_ranges = list(zip([-1.0] + highs[:-1], highs))
        if len(regress_ranges) != len(self.strides):
            raise ValueError(f'FCOSHead: {len(regress_ranges)} regress_ranges for '
                             f'{len(self.strides)} in_features {self.in_features}; give one '
                             '(low, high) pair per level or None')
        if norm not in ('GN', None):
            raise ValueError(f"FCOSHead: norm must be 'GN' or None, got {norm!r}")
        if norm == 'GN' and feat_channels % 32:
            raise ValueError(f'FCOSHead: norm="GN" uses 32 groups, feat_channels={feat_channels} '
                             'is not a multiple of 32; change feat_channels or set norm=None')
        self.regress_ranges = [(float(lo), float(hi)) for lo, hi in regress_ranges]
        self.num_classes = num_classes
        self.center_sampling = center_sampling
        self.center_sample_radius = center_sample_radius
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

        self.loss_cls = FocalLoss(focal_alpha, focal_gamma, loss_weight=loss_cls_weight)
        self.loss_bbox = GIoULoss(loss_weight=loss_bbox_weight)
        self.loss_centerness = CrossEntropyLoss(use_sigmoid=True,
                                                loss_weight=loss_centerness_weight)
        self._init_weights(prior_prob)

    def _init_weights(self, prior_prob: float) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, std=0.01)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.constant_(self.conv_cls.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: dict[str, Tensor]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Predict on every level.

        Args:
            feats: neck maps keyed like ``in_features``, each (B, C, H_l, W_l).

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

    def loss(self, feats: dict[str, Tensor],
             data_samples: Sequence[DetDataSample]) -> dict[str, Tensor]:
        """Forward and losses; see :meth:`loss_by_feat`."""
        return self.loss_by_feat(*self(feats), data_samples)

    def loss_by_feat(self, cls_scores: list[Tensor], bbox_preds: list[Tensor],
                     centernesses: list[Tensor],
                     data_samples: Sequence[DetDataSample]) -> dict[str, Tensor]:
        """Focal, GIoU and centerness losses, normalised by the number of positives.

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
        num_pos = _mean_over_ranks(torch.tensor(float(pos.numel()), device=pos.device))
        num_pos = num_pos.clamp(min=1.0)
        loss_cls = self.loss_cls(flat_cls, labels, avg_factor=num_pos)

        pos_bbox, pos_ctr = flat_bbox[pos], flat_ctr[pos]  # (N_pos, 4), (N_pos,)
        pos_targets = bbox_targets[pos]  # (N_pos, 4)
        ctr_targets = centerness_target(pos_targets)  # (N_pos,)
        # Every rank takes part in this reduction, with or without positives of its own.
        ctr_denorm = _mean_over_ranks(ctr_targets.sum().detach()).clamp(min=1e-6)
        if pos.numel() == 0:  # zero, but still connected to every parameter
            return dict(loss_cls=loss_cls, loss_bbox=pos_bbox.sum(), loss_centerness=pos_ctr.sum())
        # GIoU is translation invariant: compare both boxes around the point at the origin.
        loss_bbox = self.loss_bbox(_ltrb_to_box(pos_bbox), _ltrb_to_box(pos_targets),
                                   weight=ctr_targets, avg_factor=ctr_denorm)
        loss_ctr = self.loss_centerness(pos_ctr, ctr_targets, avg_factor=num_pos)
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox, loss_centerness=loss_ctr)

    @torch.no_grad()
    def get_targets(self, points: list[Tensor],
                    data_samples: Sequence[DetDataSample]) -> tuple[Tensor, Tensor]:
        """Assign every point of every image to at most one GT box, batched over images.

        Args:
            points: per level (P_l, 2) xy points in input pixels.
            data_samples: one per image with ``gt_instances``.

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
        chunk = max(1, _TARGET_CHUNK // (num_points * max_gts))
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

    def predict(self, feats: dict[str, Tensor], data_samples: Sequence[DetDataSample],
                rescale: bool = True) -> list[InstanceData]:
        """Forward and post-processing; see :meth:`predict_by_feat`."""
        return self.predict_by_feat(*self(feats), data_samples, rescale=rescale)

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
            boxes, scores, labels = [], [], []
            for level, stride in enumerate(self.strides):
                # (K, H, W) -> (H * W, K); (4, H, W) -> (H * W, 4); (1, H, W) -> (H * W,)
                probs = cls_scores[level][i].permute(1, 2, 0).reshape(-1, self.num_classes)
                probs = probs.float().sigmoid()
                dist = bbox_preds[level][i].permute(1, 2, 0).reshape(-1, 4)
                ctr = centernesses[level][i].reshape(-1).float().sigmoid()
                cand = torch.nonzero(probs > self.score_thr)  # (M, 2) point, class
                cand_scores = probs[cand[:, 0], cand[:, 1]]  # (M,)
                top = torch.sort(cand_scores, descending=True, stable=True).indices[:self.nms_pre]
                point_idx, cls_idx = cand[top, 0], cand[top, 1]
                if self.norm_on_bbox:
                    dist = dist * stride
                pts = points[level][point_idx]  # (M', 2)
                d = dist[point_idx]  # (M', 4)
                boxes.append(torch.cat((pts - d[:, :2], pts + d[:, 2:]), dim=-1))
                scores.append(cand_scores[top] * ctr[point_idx])
                labels.append(cls_idx)
            results.append(self._postprocess(torch.cat(boxes), torch.cat(scores),
                                             torch.cat(labels), sample.metainfo, rescale))
        return results

    def _postprocess(self, boxes: Tensor, scores: Tensor, labels: Tensor, meta: dict,
                     rescale: bool) -> InstanceData:
        """Clip, rescale, drop tiny boxes, NMS, keep ``max_per_img``: (N, 4), (N,), (N,)."""
        if 'img_shape' in meta:
            _clip(boxes, meta['img_shape'])
        if rescale:
            for key in ('scale_factor', 'ori_shape'):
                if key not in meta:
                    raise KeyError(f'FCOSHead.predict(rescale=True) needs {key!r} in the data '
                                   f'sample metainfo (has {sorted(meta)}); pack it in the '
                                   'pipeline or call with rescale=False')
            scale_w, scale_h = meta['scale_factor']
            boxes = boxes / boxes.new_tensor([scale_w, scale_h, scale_w, scale_h])
            _clip(boxes, meta['ori_shape'])
        wh = boxes[:, 2:] - boxes[:, :2]  # (N, 2)
        valid = (wh > self.min_bbox_size).all(dim=1)
        boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
        keep = batched_nms(boxes, scores, labels, self.nms_iou_thr)[:self.max_per_img]
        return InstanceData(bboxes=boxes[keep], scores=scores[keep], labels=labels[keep])


def _clip(boxes: Tensor, shape: Sequence[int]) -> None:
    """Clip (N, 4) xyxy boxes in place to an (H, W[, ...]) image."""
    height, width = shape[0], shape[1]
    boxes[:, 0::2].clamp_(min=0, max=width)
    boxes[:, 1::2].clamp_(min=0, max=height)


def _mean_over_ranks(value: Tensor) -> Tensor:
    """Mean of a scalar over the distributed ranks (itself when not distributed)."""
    value = value.clone()
    all_reduce(value, op='mean')
    return value

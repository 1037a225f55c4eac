"""What every DETR-style head derives from the data samples: targets, padding masks, the
feature-map sine PE and valid ratios."""
import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from vitdense.models.pos_encodings import sincos_embed
from vitdense.models.utils import box_xyxy_to_cxcywh
from vitdense.structures import DetDataSample


def detr_targets(data_samples: Sequence[DetDataSample], device: torch.device) -> list[dict]:
    """Per image ``labels`` (N,) and ``boxes`` (N, 4) cxcywh normalised by ``img_shape``.

    Ground-truth boxes are xyxy input pixels; like mmdet, they are normalised by the resized,
    unpadded image (``img_shape``), the frame the predicted boxes live in.
    """
    targets = []
    for sample in data_samples:
        if 'img_shape' not in sample.metainfo:
            raise KeyError("DETR-style heads need 'img_shape' in every data sample's metainfo "
                           f'(has {sorted(sample.metainfo)}); pack it in the pipeline')
        height, width = sample.metainfo['img_shape'][:2]
        gt = sample.gt_instances
        boxes = torch.as_tensor(gt.bboxes, dtype=torch.float, device=device).reshape(-1, 4)
        scale = boxes.new_tensor([width, height, width, height])
        targets.append(dict(labels=torch.as_tensor(gt.labels, device=device).long(),
                            boxes=box_xyxy_to_cxcywh(boxes) / scale))
    return targets


def padding_masks(data_samples: Optional[Sequence[DetDataSample]], batch: int,
                  input_shape: tuple[int, int], sizes: Sequence[tuple[int, int]],
                  device: torch.device) -> list[Tensor]:
    """Per feature level a (B, H_l, W_l) mask, True where the image is padding.

    The image's valid region is ``img_shape`` inside the padded ``input_shape``; the input-sized
    mask is resized to each level with nearest neighbours (as DETR and mmdet). Without data
    samples (tensor mode on bare inputs) nothing is padding.
    """
    full = torch.ones((batch, *input_shape), dtype=torch.bool, device=device)  # (B, H, W)
    if data_samples is None:
        full.zero_()
    else:
        for i, sample in enumerate(data_samples):
            height, width = sample.metainfo.get('img_shape', input_shape)[:2]
            full[i, :height, :width] = False
    return [F.interpolate(full[:, None].float(), size=size).bool()[:, 0] for size in sizes]


def sine_feature_pos(mask: Tensor, dim: int, temperature: float = 10000.0,
                     offset: float = 0.0) -> Tensor:
    """DETR's sine PE of a feature map: (B, H, W) padding mask -> (B, H, W, dim).

    Positions count valid cells (``cumsum`` of the unpadded mask, so each image is normalised by
    its own size), ``(pos + offset) / (last + eps) * 2 pi``, then embedded by
    :func:`~vitdense.models.pos_encodings.sincos_embed`, ``dim / 2`` per coordinate (x first).
    DETR uses offset 0, Deformable DETR and DINO -0.5.
    """
    valid = (~mask).float()
    y = valid.cumsum(1)  # (B, H, W)
    x = valid.cumsum(2)
    eps = 1e-6
    y = (y + offset) / (y[:, -1:, :] + eps) * 2 * math.pi
    x = (x + offset) / (x[:, :, -1:] + eps) * 2 * math.pi
    return sincos_embed(torch.stack((x, y), dim=-1), dim // 2, temperature)  # (B, H, W, dim)


def valid_ratios(mask: Tensor) -> Tensor:
    """(B, H, W) padding mask -> (B, 2) valid fraction (w, h) of the map."""
    _, height, width = mask.shape
    valid_h = (~mask[:, :, 0]).sum(1).float() / height
    valid_w = (~mask[:, 0, :]).sum(1).float() / width
    return torch.stack((valid_w, valid_h), dim=-1)

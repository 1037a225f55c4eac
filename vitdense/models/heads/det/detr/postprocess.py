"""The end of a DETR-style head's ``predict``: top-k queries, no NMS, boxes to image pixels."""
from typing import Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from vitdense.models.utils import box_cxcywh_to_xyxy, clip_boxes_, rescale_boxes


def topk_queries(pred_logits: Tensor, max_per_img: int,
                 use_sigmoid: bool) -> tuple[Tensor, Tensor, Tensor]:
    """The ``max_per_img`` best (query, class) pairs of one image, by decreasing score.

    Sigmoid models (Deformable DETR, DINO) rank all Q x K (query, class) scores, so one query
    may give several detections; softmax models (DETR) score each query by its best real class
    (the no-object logit, last, excluded) and rank the queries.

    Args:
        pred_logits: (Q, K) sigmoid or (Q, K + 1) softmax logits.
        max_per_img: detections kept (fewer when there are fewer candidates).
        use_sigmoid: which of the two conventions.

    Returns:
        ``scores`` (M,), ``labels`` (M,), ``query_idx`` (M,), M = min(max_per_img, candidates).
    """
    if use_sigmoid:
        num_classes = pred_logits.shape[-1]
        scores = pred_logits.float().sigmoid().flatten()  # (Q * K,), query-major
        scores, flat_idx = scores.topk(min(max_per_img, scores.numel()))
        return scores, flat_idx % num_classes, flat_idx // num_classes
    probs = pred_logits.float().softmax(-1)[:, :-1]  # (Q, K), no-object dropped
    scores, labels = probs.max(-1)  # (Q,)
    scores, query_idx = scores.topk(min(max_per_img, scores.numel()))
    return scores, labels[query_idx], query_idx


def boxes_to_image(boxes: Tensor, meta: dict, rescale: bool,
                   owner: str = 'DETR predict') -> Tensor:
    """(N, 4) normalised cxcywh -> (N, 4) xyxy pixels of the input or the original image.

    Normalised coordinates are relative to ``img_shape`` (the resized, unpadded image, as mmdet),
    so boxes are scaled by it and clipped to it; with ``rescale`` they are then mapped to
    ``ori_shape`` by :func:`rescale_boxes` (divided by ``scale_factor`` (w, h), clipped).
    """
    if 'img_shape' not in meta:
        raise KeyError(f"{owner} needs 'img_shape' in the data sample metainfo (has "
                       f'{sorted(meta)}): DETR boxes are normalised by it; pack it in the pipeline')
    height, width = meta['img_shape'][:2]
    xyxy = box_cxcywh_to_xyxy(boxes.float()) * boxes.new_tensor([width, height, width, height],
                                                                 dtype=torch.float)
    clip_boxes_(xyxy, (height, width))
    return rescale_boxes(xyxy, meta, owner) if rescale else xyxy


def detr_postprocess(pred_logits: Tensor, pred_boxes: Tensor, metas: Sequence[dict],
                     use_sigmoid: bool, max_per_img: int = 100, rescale: bool = True,
                     owner: str = 'DETR predict') -> list[InstanceData]:
    """Detections of each image from the last decoder layer, without NMS.

    Args:
        pred_logits: (B, Q, K) sigmoid or (B, Q, K + 1) softmax logits.
        pred_boxes: (B, Q, 4) normalised cxcywh.
        metas: B data-sample metainfo dicts with ``img_shape`` and, with ``rescale``,
            ``scale_factor`` and ``ori_shape``.
        use_sigmoid: ranking convention, see :func:`topk_queries`.
        max_per_img: detections per image.
        rescale: boxes in original-image pixels, else in input pixels.
        owner: who asks, named in errors.

    Returns:
        B InstanceData with ``bboxes`` (M, 4) xyxy, ``scores`` (M,), ``labels`` (M,), by
        decreasing score.
    """
    if len(metas) != pred_logits.shape[0]:
        raise ValueError(f'{owner}: {len(metas)} metainfo dicts for a batch of '
                         f'{pred_logits.shape[0]}')
    results = []
    for logits, boxes, meta in zip(pred_logits, pred_boxes, metas):  # (Q, C), (Q, 4)
        scores, labels, query_idx = topk_queries(logits, max_per_img, use_sigmoid)
        bboxes = boxes_to_image(boxes[query_idx], meta, rescale, owner)  # (M, 4)
        results.append(InstanceData(bboxes=bboxes, scores=scores, labels=labels))
    return results

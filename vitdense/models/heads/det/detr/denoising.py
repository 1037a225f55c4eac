"""DINO's contrastive denoising (CDN) queries: noised copies of the ground truth."""
from typing import Sequence

import torch
from torch import nn

from vitdense.models.utils import box_cxcywh_to_xyxy, box_xyxy_to_cxcywh


def cdn_queries(targets: Sequence[dict], num_classes: int, label_embed: nn.Embedding,
                num_dn_queries: int, label_noise_scale: float, box_noise_scale: float,
                num_matching_queries: int) -> dict | None:
    """Positive and negative noised queries of every GT box, in groups, with their attention mask.

    Zhang et al. 2023, "DINO: DETR with Improved DeNoising Anchor Boxes for End-to-End Object
    Detection", arXiv 2203.03605 (Sec. 3.3). Each group holds one positive and one negative copy
    of every GT box of the image (``max_gt`` slots each, padded); ``groups = num_dn_queries //
    max_gt`` (at least 1, mmdet's dynamic groups). A positive box moves each corner by less than
    ``box_noise_scale`` x half its side; a negative one by between 1 and 2 times that, and must be
    classified as background. A label is replaced by a random class with probability
    ``label_noise_scale / 2``.

    Args:
        targets: B dicts with ``labels`` (N_b,) and ``boxes`` (N_b, 4) normalised cxcywh.
        num_classes: K.
        label_embed: K -> C embedding of the (noised) labels: the query content.
        num_dn_queries: denoising query budget.
        label_noise_scale, box_noise_scale: noise strengths (DINO: 0.5 and 1.0).
        num_matching_queries: the matching queries that follow the denoising ones.

    Returns:
        None without any GT in the batch; else ``query`` (B, D, C), ``reference`` (B, D, 4)
        cxcywh in [0, 1], ``attn_mask`` (D + Q, D + Q) True where attention is blocked (the
        matching queries see no denoising query; groups do not see each other), ``indices``
        (B pairs of positive query index and GT index) and ``num_groups``, ``num_dn`` = D.
    """
    counts = [len(t['labels']) for t in targets]
    max_gt = max(counts, default=0)
    if max_gt == 0:
        return None
    device = targets[0]['boxes'].device
    groups = max(1, num_dn_queries // max_gt)
    num_dn = 2 * max_gt * groups
    batch = len(targets)
    labels = torch.zeros((batch, num_dn), dtype=torch.long, device=device)
    boxes = torch.full((batch, num_dn, 4), 0.5, device=device)
    valid = torch.zeros((batch, num_dn), dtype=torch.bool, device=device)
    negative = torch.zeros((batch, num_dn), dtype=torch.bool, device=device)
    indices = []
    for b, (t, n) in enumerate(zip(targets, counts)):
        if n == 0:
            indices.append((torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)))
            continue
        starts = torch.arange(groups, device=device) * 2 * max_gt  # (G,)
        pos = (starts[:, None] + torch.arange(n, device=device)).flatten()  # (G * n,)
        neg = pos + max_gt
        for slots, is_neg in ((pos, False), (neg, True)):
            labels[b, slots] = t['labels'].long().repeat(groups)
            boxes[b, slots] = t['boxes'].float().repeat(groups, 1)
            valid[b, slots] = True
            negative[b, slots] = is_neg
        indices.append((pos.cpu(), torch.arange(n).repeat(groups)))
    if label_noise_scale > 0:
        flip = (torch.rand(labels.shape, device=device) < label_noise_scale * 0.5) & valid
        labels = torch.where(flip, torch.randint_like(labels, num_classes), labels)
    if box_noise_scale > 0:
        xyxy = box_cxcywh_to_xyxy(boxes)  # (B, D, 4)
        half = (boxes[..., 2:] / 2).repeat(1, 1, 2)  # (B, D, 4) half width/height per corner
        sign = torch.randint_like(boxes, 2) * 2 - 1
        part = torch.rand_like(boxes) + negative[..., None].float()  # [0, 1) or [1, 2)
        xyxy = (xyxy + sign * part * half * box_noise_scale).clamp(0, 1)
        boxes = torch.where(valid[..., None], box_xyxy_to_cxcywh(xyxy), boxes)
    query = label_embed(labels) * valid[..., None]  # (B, D, C), padding slots zero
    total = num_dn + num_matching_queries
    attn_mask = torch.zeros((total, total), dtype=torch.bool, device=device)
    attn_mask[num_dn:, :num_dn] = True
    for g in range(groups):
        rows = slice(2 * max_gt * g, 2 * max_gt * (g + 1))
        attn_mask[rows, :num_dn] = True
        attn_mask[rows, rows] = False
    return dict(query=query, reference=boxes.clamp(1e-4, 1 - 1e-4), attn_mask=attn_mask,
                indices=indices, num_groups=groups, num_dn=num_dn)

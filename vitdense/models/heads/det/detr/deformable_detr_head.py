"""Deformable DETR: multi-scale deformable attention, iterative box refinement, two-stage."""
import math
from typing import Optional, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from vitdense.models.pos_encodings import sincos_embed
from vitdense.models.transformers import MLP, DeformableDecoder, DeformableEncoder
from vitdense.registry import MODELS
from vitdense.structures import DetDataSample, ShapeSpec

from .inputs import detr_targets, padding_masks, sine_feature_pos, valid_ratios
from .postprocess import detr_postprocess


def box_sine_embed(boxes: Tensor, embed_dims: int, temperature: float = 10000.0) -> Tensor:
    """(..., 4) cxcywh in [0, 1] -> (..., 2 * embed_dims): each coordinate x 2 pi, embedded
    ``embed_dims / 2`` wide (Deformable DETR's proposal and DINO's query-position embedding)."""
    return sincos_embed(boxes * (2 * math.pi), embed_dims // 2, temperature)


def encoder_proposals(memory: Tensor, memory_mask: Tensor, spatial_shapes: Sequence[tuple],
                      masks: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """One box proposal per encoder token: its cell, 0.05 x 2^level wide (Deformable DETR).

    Args:
        memory: (B, S, C) encoder output; memory_mask: (B, S) True at padding.
        spatial_shapes: (H_l, W_l) per level; masks: per level (B, H_l, W_l) padding masks.

    Returns:
        proposals: (B, S, 4) logit-space cxcywh, +inf where invalid (padding, or too close to
            the border to invert the sigmoid).
        valid: (B, S) which proposals are usable.
    """
    proposals = []
    for level, ((height, width), mask) in enumerate(zip(spatial_shapes, masks)):
        ratio = valid_ratios(mask)  # (B, 2) valid (w, h) fraction
        ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32, device=memory.device),
                                torch.arange(width, dtype=torch.float32, device=memory.device),
                                indexing='ij')  # (H, W) each
        grid = torch.stack((xs, ys), dim=-1).reshape(1, -1, 2) + 0.5  # (1, H * W, 2)
        size = torch.tensor([width, height], dtype=torch.float32, device=memory.device)
        grid = grid / (ratio[:, None] * size)  # (B, H * W, 2)
        wh = torch.full_like(grid, 0.05 * 2.0 ** level)
        proposals.append(torch.cat((grid, wh), dim=-1))  # (B, H * W, 4)
    proposals = torch.cat(proposals, dim=1)  # (B, S, 4)
    valid = ((proposals > 0.01) & (proposals < 0.99)).all(-1) & ~memory_mask  # (B, S)
    logits = torch.log(proposals / (1 - proposals)).masked_fill(~valid[..., None], float('inf'))
    return logits, valid


def hybrid_attn_mask(mask: Optional[Tensor], num_first: int, num_o2m: int,
                     device: torch.device) -> Optional[Tensor]:
    """The decoder's self-attention mask with ``num_o2m`` one-to-many queries appended.

    Args:
        mask: (F, F) True where blocked among the first ``num_first`` queries (DINO's
            denoising mask), or None (nothing blocked).
        num_first: queries before the one-to-many ones (denoising + one-to-one).
        num_o2m: one-to-many queries (H-DETR); they and the first queries do not see each other.

    Returns:
        (F + T, F + T) bool, or ``mask`` itself when there are no one-to-many queries.
    """
    if not num_o2m:
        return mask
    total = num_first + num_o2m
    out = torch.zeros((total, total), dtype=torch.bool, device=device)
    if mask is not None:
        out[:num_first, :num_first] = mask
    out[num_first:, :num_first] = True
    out[:num_first, num_first:] = True
    return out


@MODELS.register_module()
class DeformableDETRHead(nn.Module):
    """Deformable DETR (with iterative box refinement and two-stage) on the neck's pyramid.

    Zhu et al. 2021, "Deformable DETR: Deformable Transformers for End-to-End Object Detection",
    arXiv 2010.04159: the "+ iterative bounding box refinement + two-stage" variant (46.9 AP at
    50 epochs). Each level is projected to ``embed_dims`` (1x1 conv + GroupNorm) and given a
    sine PE plus a learned level embedding; a deformable encoder mixes the levels; every encoder
    token proposes a box, and the ``num_queries`` best proposals seed the decoder's queries and
    reference boxes, which each decoder layer refines. K sigmoid logits per query (focal loss).

    Args:
        num_classes: K object classes.
        input_shape: the neck's ``output_shape()``.
        in_features: keys of the maps to use, fine to coarse, one width.
        embed_dims: transformer width.
        num_queries: decoder queries (the most detections per image).
        num_encoder_layers: deformable encoder layers (0 allowed).
        num_decoder_layers: decoder layers (>= 1).
        num_heads: attention heads.
        num_points: sampling points per head and level.
        ffn_dims: FFN hidden width.
        dropout: dropout in the transformer.
        pe_temperature: temperature of the feature-map sine PE.
        matcher, loss_cls, loss_bbox, loss_giou: :class:`SetCriterion` arguments; None gives
            Deformable DETR's (costs 2 / 5 / 2 with a focal class cost, focal loss x 2, L1 x 5,
            GIoU x 2).
        max_per_img: detections kept per image (top-k over queries x classes, no NMS).
        mixed_query_selection: DINO's queries: the proposals give only the reference boxes,
            the content queries are learned, and every decoder layer embeds its current boxes
            as query positions; else Deformable DETR's (both from the proposal boxes).
        look_forward_twice: DINO's box refinement (:class:`DeformableDecoder`).
        decoder_post_norm: a LayerNorm on every decoder layer's output (DINO).
        aux_head: config of a dense detection head trained on the encoder's output, reshaped
            back to one map per level (``embed_dims`` wide, the levels' strides), e.g.
            ``dict(type='FCOSHead', feat_channels=128, stacked_convs=1)``: Co-DETR's
            collaborative one-to-many assignment (Zong et al. 2023, "DETRs with Collaborative
            Hybrid Assignments Training", arXiv 2211.12860), which supervises every encoder
            token near a box instead of one query per box. Training only: its losses are
            added as ``aux_<name>``, each times ``aux_loss_weight``; predictions stay the
            decoder's (no NMS). ``num_classes``, ``input_shape`` and ``in_features`` are
            filled in (the head's own).
        aux_loss_weight: Co-DETR's lambda_1 on the auxiliary head's losses.
        num_queries_one2many: H-DETR's one-to-many branch (Jia et al. 2023, "DETRs with Hybrid
            Matching", arXiv 2207.13080), training only: this many more queries, from the next
            best proposals, are decoded beside the matching ones (neither group attends to the
            other) and matched to the ground truth repeated ``k_one2many`` times, so each box
            has that many positive queries per layer. 0 (default) turns it off. At test time
            only the ``num_queries`` one-to-one queries run: predictions stay NMS-free.
        k_one2many: copies of each GT box in the one-to-many matching (H-DETR: 6).
        lambda_one2many: weight of the one-to-many losses (``o2m_loss_*``, ``d{i}.o2m_loss_*``).
    """

    def __init__(self, num_classes: int, input_shape: dict[str, ShapeSpec],
                 in_features: Sequence[str] = ('p3', 'p4', 'p5', 'p6'), embed_dims: int = 256,
                 num_queries: int = 300, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, num_heads: int = 8, num_points: int = 4,
                 ffn_dims: int = 1024, dropout: float = 0.0, pe_temperature: float = 10000.0,
                 matcher: Optional[dict] = None, loss_cls: Optional[dict] = None,
                 loss_bbox: Optional[dict] = None, loss_giou: Optional[dict] = None,
                 max_per_img: int = 100, mixed_query_selection: bool = False,
                 look_forward_twice: bool = False, decoder_post_norm: bool = False,
                 aux_head: Optional[dict] = None, aux_loss_weight: float = 1.0,
                 num_queries_one2many: int = 0, k_one2many: int = 6,
                 lambda_one2many: float = 1.0) -> None:
        super().__init__()
        name = type(self).__name__
        if num_queries_one2many < 0 or k_one2many < 1:
            raise ValueError(f'{name}: num_queries_one2many must be >= 0 and k_one2many >= 1, '
                             f'got {num_queries_one2many} and {k_one2many}')
        self.num_queries_one2many = num_queries_one2many
        self.k_one2many, self.lambda_one2many = k_one2many, lambda_one2many
        self.in_features = tuple(in_features)
        missing = [k for k in self.in_features if k not in input_shape]
        if missing:
            raise KeyError(f'{name}: in_features {missing} not in the neck output '
                           f'{sorted(input_shape)}; set in_features to keys the neck provides')
        if embed_dims % 32:
            raise ValueError(f'{name}: embed_dims must be a multiple of 32 (GroupNorm(32) and the '
                             f'sine PE), got {embed_dims}')
        self.strides = [input_shape[k].stride for k in self.in_features]
        self.num_classes, self.embed_dims = num_classes, embed_dims
        self.num_queries, self.max_per_img = num_queries, max_per_img
        self.pe_temperature = pe_temperature
        num_levels = len(self.in_features)
        self.input_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(input_shape[k].channels, embed_dims, 1),
                          nn.GroupNorm(32, embed_dims)) for k in self.in_features)
        self.level_embed = nn.Parameter(torch.empty(num_levels, embed_dims).normal_())
        layer = dict(embed_dims=embed_dims, num_heads=num_heads, num_levels=num_levels,
                     num_points=num_points, ffn_dims=ffn_dims, dropout=dropout)
        self.encoder = DeformableEncoder(num_encoder_layers, **layer)
        self.decoder = DeformableDecoder(num_decoder_layers, post_norm=decoder_post_norm,
                                         look_forward_twice=look_forward_twice, **layer)
        # Decoder layers 0..N-1 then the encoder's proposal heads (index N).
        self.cls_branches = nn.ModuleList(nn.Linear(embed_dims, num_classes)
                                          for _ in range(num_decoder_layers + 1))
        self.reg_branches = nn.ModuleList(MLP(embed_dims, embed_dims, 4, 3)
                                          for _ in range(num_decoder_layers + 1))
        self.enc_output = nn.Sequential(nn.Linear(embed_dims, embed_dims),
                                        nn.LayerNorm(embed_dims))
        self.mixed_query_selection = mixed_query_selection
        if mixed_query_selection:
            self.query_embed = nn.Embedding(num_queries, embed_dims)
            if num_queries_one2many:
                self.query_embed_one2many = nn.Embedding(num_queries_one2many, embed_dims)
            self.ref_point_head = MLP(2 * embed_dims, embed_dims, embed_dims, 2)
        else:
            self.pos_trans = nn.Sequential(nn.Linear(2 * embed_dims, 2 * embed_dims),
                                           nn.LayerNorm(2 * embed_dims))
        self.criterion = MODELS.build(dict(
            type='SetCriterion', num_classes=num_classes,
            matcher=matcher or dict(type='HungarianMatcher', cost_class=2.0, cost_bbox=5.0,
                                    cost_giou=2.0, class_cost_type='focal'),
            loss_cls=loss_cls or dict(type='FocalLoss', alpha=0.25, gamma=2.0, loss_weight=2.0),
            loss_bbox=loss_bbox or dict(type='L1Loss', loss_weight=5.0),
            loss_giou=loss_giou or dict(type='GIoULoss', loss_weight=2.0)))
        if not self.criterion.use_sigmoid:
            raise ValueError(f'{name} predicts K sigmoid logits; give a sigmoid loss_cls '
                             '(FocalLoss)')
        self.aux_head = None if aux_head is None else MODELS.build(dict(
            aux_head, num_classes=num_classes,
            input_shape={k: ShapeSpec(embed_dims, s) for k, s in zip(self.in_features,
                                                                     self.strides)},
            in_features=self.in_features))
        self.aux_loss_weight = aux_loss_weight
        self._init_weights()

    def _init_weights(self) -> None:
        bias = -math.log((1 - 0.01) / 0.01)  # prior probability 0.01
        for cls_branch in self.cls_branches:
            nn.init.constant_(cls_branch.bias, bias)
        for reg_branch in self.reg_branches:
            nn.init.zeros_(reg_branch.layers[-1].weight)
            nn.init.zeros_(reg_branch.layers[-1].bias)
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.zeros_(proj[0].bias)

    def _flatten_levels(self, feats: dict[str, Tensor],
                        data_samples: Optional[Sequence[DetDataSample]]) -> dict:
        """Project, mask and flatten the levels: the encoder's inputs."""
        for key in self.in_features:
            if key not in feats:
                raise KeyError(f'{type(self).__name__}: feature {key!r} missing from the neck '
                               f'output {sorted(feats)}')
        maps = [proj(feats[k]) for proj, k in zip(self.input_proj, self.in_features)]
        batch, device = maps[0].shape[0], maps[0].device
        shapes = [tuple(m.shape[-2:]) for m in maps]
        input_size = (shapes[0][0] * self.strides[0], shapes[0][1] * self.strides[0])
        masks = padding_masks(data_samples, batch, input_size, shapes, device)
        pos = [sine_feature_pos(mask, self.embed_dims, self.pe_temperature, offset=-0.5)
               .flatten(1, 2) + self.level_embed[level]
               for level, mask in enumerate(masks)]  # per level (B, H * W, C)
        return dict(
            src=torch.cat([m.flatten(2).transpose(1, 2) for m in maps], dim=1),  # (B, S, C)
            pos=torch.cat(pos, dim=1).to(maps[0].dtype),  # (B, S, C)
            mask=torch.cat([m.flatten(1) for m in masks], dim=1),  # (B, S)
            masks=masks, shapes=shapes,
            spatial_shapes=torch.as_tensor(shapes, dtype=torch.long, device=device),  # (L, 2)
            level_start_index=torch.as_tensor(
                [0] + [h * w for h, w in shapes[:-1]], device=device).cumsum(0),  # (L,)
            valid_ratios=torch.stack([valid_ratios(m) for m in masks], dim=1))  # (B, L, 2)

    def _select_proposals(self, memory: Tensor, levels: dict,
                          num: int) -> tuple[Tensor, Tensor, dict]:
        """Score every encoder token's proposal; keep the ``num`` best (at most all of them).

        Returns:
            topk_memory: (B, Q, C) the kept tokens' features; topk_boxes: (B, Q, 4) their
            refined boxes (sigmoid, detached); enc_outputs: their logits and boxes for the loss.
        """
        proposals, valid = encoder_proposals(memory, levels['mask'], levels['shapes'],
                                             levels['masks'])
        out = self.enc_output(memory.masked_fill(~valid[..., None], 0.0))  # (B, S, C)
        logits = self.cls_branches[-1](out)  # (B, S, K)
        coords = self.reg_branches[-1](out).float() + proposals  # (B, S, 4) logit space
        scores = logits.float().amax(-1).masked_fill(~valid, float('-inf'))  # (B, S)
        topk = scores.topk(min(num, scores.shape[1]), dim=1).indices  # (B, Q)
        topk_logits = logits.gather(1, topk[..., None].expand(-1, -1, logits.shape[-1]))
        topk_coords = coords.gather(1, topk[..., None].expand(-1, -1, 4))  # (B, Q, 4)
        topk_memory = out.gather(1, topk[..., None].expand(-1, -1, out.shape[-1]))
        enc_outputs = dict(pred_logits=topk_logits, pred_boxes=topk_coords.sigmoid())
        return topk_memory, topk_coords.sigmoid().detach(), enc_outputs

    def _queries(self, topk_memory: Tensor, topk_boxes: Tensor) -> dict:
        """Decoder inputs from the kept proposals.

        Deformable DETR splits the transformed sine embedding of each box into query position
        and content; DINO's mixed query selection keeps the boxes as references only, with
        learned content and positions recomputed from the boxes in every layer.
        """
        if self.mixed_query_selection:
            query = self.query_embed.weight[:topk_boxes.shape[1]]  # (Q, C)
            extra = topk_boxes.shape[1] - query.shape[0]  # one-to-many queries, if any
            if extra:
                query = torch.cat([query, self.query_embed_one2many.weight[:extra]])
            query = query[None].expand(topk_boxes.shape[0], -1, -1).to(topk_memory.dtype)
            return dict(query=query, reference=topk_boxes)
        pos, query = self.pos_trans(box_sine_embed(topk_boxes, self.embed_dims).to(
            topk_memory.dtype)).split(self.embed_dims, dim=-1)  # (B, Q, C) each
        return dict(query=query, reference=topk_boxes, query_pos=pos)

    def _position_of(self, boxes: Tensor) -> Tensor:
        """DINO's query positions: (B, Q, 4) boxes -> (B, Q, C)."""
        return self.ref_point_head(box_sine_embed(boxes, self.embed_dims).to(
            self.query_embed.weight.dtype))

    def forward(self, feats: dict[str, Tensor],
                data_samples: Optional[Sequence[DetDataSample]] = None) -> dict:
        """Predictions of every decoder layer and of the encoder's proposals.

        Args:
            feats: neck maps keyed like ``in_features``, each (B, C, H_l, W_l).
            data_samples: give ``img_shape`` (padding masks); without them nothing is padding.

        Returns:
            ``pred_logits`` (B, Q, K), ``pred_boxes`` (B, Q, 4) normalised cxcywh of the last
            layer, ``aux_outputs`` (earlier layers) and ``enc_outputs`` (the kept proposals).
        """
        levels = self._flatten_levels(feats, data_samples)
        return self._decode(levels, self._encode(levels))

    def _encode(self, levels: dict) -> Tensor:
        # The levels' (H, W) as Python pairs: symbolic sizes survive graph capture (ONNX export)
        return self.encoder(levels['src'], levels['pos'], levels['shapes'],
                            levels['level_start_index'], levels['valid_ratios'], levels['mask'])

    def _decode(self, levels: dict, memory: Tensor, dn: Optional[dict] = None,
                one2many: bool = False) -> dict:
        """Decode the best proposals (after ``dn``'s denoising queries, if any); with
        ``one2many``, also the one-to-many queries, returned apart under ``'one2many'``."""
        num_o2o = min(self.num_queries, memory.shape[1])
        extra = self.num_queries_one2many if one2many else 0
        topk_memory, topk_boxes, enc_outputs = self._select_proposals(
            memory, levels, num_o2o + extra)
        num_o2m = topk_boxes.shape[1] - num_o2o
        enc_outputs = {k: v[:, :num_o2o] for k, v in enc_outputs.items()}
        queries = self._queries(topk_memory, topk_boxes)
        num_dn = 0 if dn is None else dn['num_dn']
        if dn is not None:  # DINO's denoising queries go first
            queries = dict(query=torch.cat([dn['query'].to(queries['query'].dtype),
                                            queries['query']], dim=1),
                           reference=torch.cat([dn['reference'], queries['reference']], dim=1))
        position = (dict(pos_from_reference=self._position_of) if self.mixed_query_selection
                    else dict(query_pos=queries['query_pos']))
        hidden, boxes = self.decoder(
            queries['query'], queries['reference'], memory, levels['mask'],
            levels['shapes'], levels['level_start_index'], levels['valid_ratios'],
            self.reg_branches[:-1], **position,
            self_attn_mask=hybrid_attn_mask(None if dn is None else dn['attn_mask'],
                                            num_dn + num_o2o, num_o2m, memory.device))
        layers = [dict(pred_logits=cls(h), pred_boxes=b)
                  for cls, h, b in zip(self.cls_branches, hidden, boxes)]
        outputs = dict(**layers[-1], aux_outputs=layers[:-1], enc_outputs=enc_outputs)
        if not num_o2m:
            return outputs
        first = num_dn + num_o2o
        main = [{k: v[:, :first] for k, v in layer.items()} for layer in layers]
        o2m = [{k: v[:, first:] for k, v in layer.items()} for layer in layers]
        return dict(**main[-1], aux_outputs=main[:-1], enc_outputs=enc_outputs,
                    one2many=dict(**o2m[-1], aux_outputs=o2m[:-1]))

    def one2many_losses(self, outputs: Optional[dict],
                        targets: Sequence[dict]) -> dict[str, Tensor]:
        """H-DETR's one-to-many losses: the one-to-many queries' layers matched to every GT box
        repeated ``k_one2many`` times, ``o2m_``-named (``d{i}.o2m_loss_*`` for earlier layers)
        and weighted by ``lambda_one2many``; none without such queries."""
        if outputs is None:
            return {}
        repeated = [dict(t, labels=t['labels'].repeat(self.k_one2many),
                         boxes=t['boxes'].repeat(self.k_one2many, 1)) for t in targets]
        named = {}
        for key, value in self.criterion(outputs, repeated).items():
            layer, _, loss = key.rpartition('.')  # 'd0.loss_cls' -> 'd0.o2m_loss_cls'
            named[f'{layer}.o2m_{loss}' if layer else f'o2m_{loss}'] = value * self.lambda_one2many
        return named

    def loss(self, feats: dict[str, Tensor],
             data_samples: Sequence[DetDataSample]) -> dict[str, Tensor]:
        """Matching losses of every decoder layer (``loss_*``, ``d{i}.loss_*``), of the
        proposals (``enc_loss_*``), of the one-to-many queries (``o2m_loss_*``) and of the
        auxiliary head (``aux_loss_*``), if any."""
        levels = self._flatten_levels(feats, data_samples)
        memory = self._encode(levels)
        outputs = self._decode(levels, memory, one2many=True)
        targets = detr_targets(data_samples, memory.device)
        one2many = self.one2many_losses(outputs.pop('one2many', None), targets)
        losses = self.criterion(outputs, targets)
        return {**losses, **one2many, **self.aux_losses(memory, levels, data_samples)}

    def aux_losses(self, memory: Tensor, levels: dict,
                   data_samples: Sequence[DetDataSample]) -> dict[str, Tensor]:
        """The auxiliary dense head's losses on the encoder output, ``aux_``-prefixed and
        weighted by ``aux_loss_weight`` (none without ``aux_head``)."""
        if self.aux_head is None:
            return {}
        per_level = memory.split([h * w for h, w in levels['shapes']], dim=1)  # (B, H*W, C)
        maps = {key: tokens.transpose(1, 2).unflatten(-1, size)  # (B, C, H, W)
                for key, size, tokens in zip(self.in_features, levels['shapes'], per_level)}
        return {f'aux_{k}': v * self.aux_loss_weight
                for k, v in self.aux_head.loss(maps, data_samples).items()}

    def predict(self, feats: dict[str, Tensor], data_samples: Sequence[DetDataSample],
                rescale: bool = True) -> list[InstanceData]:
        """Top ``max_per_img`` (query, class) pairs of the last layer per image (no NMS)."""
        outputs = self(feats, data_samples)
        return detr_postprocess(outputs['pred_logits'], outputs['pred_boxes'],
                                [s.metainfo for s in data_samples], use_sigmoid=True,
                                max_per_img=self.max_per_img, rescale=rescale,
                                owner=f'{type(self).__name__}.predict')




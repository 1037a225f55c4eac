"""DETR: set prediction with learned queries, bipartite matching and no NMS."""
from typing import Optional, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from vitdense.models.transformers import MLP, DetrDecoderLayer, DetrEncoderLayer
from vitdense.registry import MODELS
from vitdense.structures import DetDataSample, ShapeSpec

from .inputs import detr_targets, padding_masks, sine_feature_pos
from .postprocess import detr_postprocess


@MODELS.register_module()
class DETRHead(nn.Module):
    """DETR's transformer and prediction heads on one feature map of the neck.

    Carion et al. 2020, "End-to-End Object Detection with Transformers", arXiv 2005.12872. The
    map is projected to ``embed_dims``, given a sine PE (:func:`sine_feature_pos`), optionally
    encoded (zero layers by default: the ViT already encodes), and decoded by
    ``num_decoder_layers`` post-norm layers from ``num_queries`` learned query positions. Every
    layer's output (after a shared LayerNorm) predicts K + 1 softmax logits (no-object last) and
    a sigmoid cxcywh box normalised by ``img_shape``; earlier layers give the auxiliary losses.

    Args:
        num_classes: K object classes.
        input_shape: the neck's ``output_shape()``.
        in_feature: the key of the map to use.
        embed_dims: transformer width.
        num_queries: object queries (the most detections per image).
        num_encoder_layers: transformer encoder layers over the map (0 allowed).
        num_decoder_layers: decoder layers (>= 1).
        num_heads: attention heads.
        ffn_dims: FFN hidden width.
        dropout: dropout in the transformer (DETR: 0.1).
        pe_temperature: temperature of the sine PE.
        matcher, loss_cls, loss_bbox, loss_giou, eos_coef: :class:`SetCriterion` arguments;
            None gives DETR's (costs 1 / 5 / 2, CE with no-object weight 0.1, L1 x 5, GIoU x 2).
        max_per_img: detections kept per image.
    """

    def __init__(self, num_classes: int, input_shape: dict[str, ShapeSpec],
                 in_feature: str = 'p5', embed_dims: int = 256, num_queries: int = 100,
                 num_encoder_layers: int = 0, num_decoder_layers: int = 6, num_heads: int = 8,
                 ffn_dims: int = 2048, dropout: float = 0.1, pe_temperature: float = 10000.0,
                 matcher: Optional[dict] = None, loss_cls: Optional[dict] = None,
                 loss_bbox: Optional[dict] = None, loss_giou: Optional[dict] = None,
                 eos_coef: float = 0.1, max_per_img: int = 100) -> None:
        super().__init__()
        if in_feature not in input_shape:
            raise KeyError(f'DETRHead: in_feature {in_feature!r} not in the neck output '
                           f'{sorted(input_shape)}; set in_feature to a key the neck provides')
        if num_decoder_layers < 1:
            raise ValueError(f'DETRHead: num_decoder_layers must be >= 1, got '
                             f'{num_decoder_layers}')
        if embed_dims % 4:
            raise ValueError(f'DETRHead: embed_dims must be a multiple of 4 (the 2D sine PE), '
                             f'got {embed_dims}')
        self.num_classes, self.in_feature = num_classes, in_feature
        self.stride = input_shape[in_feature].stride
        self.embed_dims, self.pe_temperature = embed_dims, pe_temperature
        self.max_per_img = max_per_img
        self.input_proj = nn.Conv2d(input_shape[in_feature].channels, embed_dims, 1)
        layer = dict(embed_dims=embed_dims, num_heads=num_heads, ffn_dims=ffn_dims,
                     dropout=dropout)
        self.encoder = nn.ModuleList(DetrEncoderLayer(**layer)
                                     for _ in range(num_encoder_layers))
        self.decoder = nn.ModuleList(DetrDecoderLayer(**layer)
                                     for _ in range(num_decoder_layers))
        self.decoder_norm = nn.LayerNorm(embed_dims)
        self.query_embed = nn.Embedding(num_queries, embed_dims)
        self.cls_branch = nn.Linear(embed_dims, num_classes + 1)
        self.reg_branch = MLP(embed_dims, embed_dims, 4, 3)
        self.criterion = MODELS.build(dict(
            type='SetCriterion', num_classes=num_classes,
            matcher=matcher or dict(type='HungarianMatcher', cost_class=1.0, cost_bbox=5.0,
                                    cost_giou=2.0, class_cost_type='ce'),
            loss_cls=loss_cls or dict(type='CrossEntropyLoss', use_sigmoid=False,
                                      ignore_index=-100, loss_weight=1.0),
            loss_bbox=loss_bbox or dict(type='L1Loss', loss_weight=5.0),
            loss_giou=loss_giou or dict(type='GIoULoss', loss_weight=2.0), eos_coef=eos_coef))
        if self.criterion.use_sigmoid:
            raise ValueError('DETRHead predicts K + 1 softmax logits; give a softmax loss_cls '
                             '(CrossEntropyLoss with use_sigmoid=False)')

    def forward(self, feats: dict[str, Tensor],
                data_samples: Optional[Sequence[DetDataSample]] = None) -> dict:
        """Predictions of every decoder layer.

        Args:
            feats: neck maps; ``feats[in_feature]`` is (B, C, H, W).
            data_samples: give ``img_shape`` and ``batch_input_shape`` (padding masks); without
                them no cell is padding.

        Returns:
            ``pred_logits`` (B, Q, K + 1), ``pred_boxes`` (B, Q, 4) normalised cxcywh of the
            last layer, and ``aux_outputs``: a list of such dicts for the earlier layers.
        """
        if self.in_feature not in feats:
            raise KeyError(f'DETRHead: feature {self.in_feature!r} missing from the neck output '
                           f'{sorted(feats)}')
        x = self.input_proj(feats[self.in_feature])  # (B, C, H, W)
        batch, _, height, width = x.shape
        mask = padding_masks(data_samples, batch, (height * self.stride, width * self.stride),
                             [(height, width)], x.device)[0]  # (B, H, W)
        pos = sine_feature_pos(mask, self.embed_dims, self.pe_temperature).flatten(1, 2)
        memory = x.flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, H * W, C)
        pos = pos.to(memory.dtype)  # (B, H * W, C)
        memory_mask = mask.flatten(1)  # (B, H * W)
        for layer in self.encoder:
            memory = layer(memory, pos, memory_mask)
        query_pos = self.query_embed.weight[None].expand(batch, -1, -1)  # (B, Q, C)
        query = torch.zeros_like(query_pos, dtype=memory.dtype)
        outputs = []
        for layer in self.decoder:
            query = layer(query, query_pos, memory, pos, memory_mask)
            hidden = self.decoder_norm(query)
            outputs.append(dict(pred_logits=self.cls_branch(hidden),
                                pred_boxes=self.reg_branch(hidden).float().sigmoid()))
        return dict(**outputs[-1], aux_outputs=outputs[:-1])

    def loss(self, feats: dict[str, Tensor],
             data_samples: Sequence[DetDataSample]) -> dict[str, Tensor]:
        """Matching losses of every layer: ``loss_cls, loss_bbox, loss_giou`` and ``d{i}.*``."""
        outputs = self(feats, data_samples)
        return self.criterion(outputs, detr_targets(data_samples, outputs['pred_boxes'].device))

    def predict(self, feats: dict[str, Tensor], data_samples: Sequence[DetDataSample],
                rescale: bool = True) -> list[InstanceData]:
        """Top ``max_per_img`` queries of the last layer per image (no NMS)."""
        outputs = self(feats, data_samples)
        return detr_postprocess(outputs['pred_logits'], outputs['pred_boxes'],
                                [s.metainfo for s in data_samples], use_sigmoid=False,
                                max_per_img=self.max_per_img, rescale=rescale,
                                owner='DETRHead.predict')

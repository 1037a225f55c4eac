"""DINO: Deformable DETR with contrastive denoising, mixed query selection, look forward twice."""
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from vitdense.models.utils import mean_over_ranks
from vitdense.registry import MODELS
from vitdense.structures import DetDataSample, ShapeSpec

from .deformable_detr_head import DeformableDETRHead
from .denoising import cdn_queries
from .inputs import detr_targets


@MODELS.register_module()
class DINOHead(DeformableDETRHead):
    """DINO's head: :class:`DeformableDETRHead` with DINO's queries and denoising training.

    Zhang et al. 2023, "DINO: DETR with Improved DeNoising Anchor Boxes for End-to-End Object
    Detection", arXiv 2203.03605. Its three additions to Deformable DETR: contrastive denoising
    (:func:`cdn_queries`, training only: noised GT boxes are decoded beside the matching queries
    and must be reconstructed, their negatives rejected), mixed query selection (the best encoder
    proposals give the reference boxes, the content queries are learned) and look forward twice.

    Args:
        num_classes, input_shape, in_features, embed_dims, num_queries, num_encoder_layers,
            num_decoder_layers, num_heads, num_points, ffn_dims, dropout, pe_temperature,
            matcher, loss_cls, loss_bbox, loss_giou, max_per_img: as
            :class:`DeformableDETRHead`, with DINO's defaults (900 queries, 2048-wide FFN, PE
            temperature 20, focal loss x 1).
        num_dn_queries: denoising query budget (groups = this // most GT boxes in an image).
        label_noise_scale: twice the probability of flipping a denoising query's label.
        box_noise_scale: corner noise in units of half the box side.
        aux_head, aux_loss_weight: as :class:`DeformableDETRHead` (Co-DETR's auxiliary head:
            with it, this is Co-DINO without the customized positive queries).
        num_queries_one2many, k_one2many, lambda_one2many: as :class:`DeformableDETRHead`
            (H-DETR's one-to-many branch; off by default).
    """

    def __init__(self, num_classes: int, input_shape: dict[str, ShapeSpec],
                 in_features: Sequence[str] = ('p3', 'p4', 'p5', 'p6'), embed_dims: int = 256,
                 num_queries: int = 900, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, num_heads: int = 8, num_points: int = 4,
                 ffn_dims: int = 2048, dropout: float = 0.0, pe_temperature: float = 20.0,
                 matcher: Optional[dict] = None, loss_cls: Optional[dict] = None,
                 loss_bbox: Optional[dict] = None, loss_giou: Optional[dict] = None,
                 max_per_img: int = 100, num_dn_queries: int = 100,
                 label_noise_scale: float = 0.5, box_noise_scale: float = 1.0,
                 aux_head: Optional[dict] = None, aux_loss_weight: float = 1.0,
                 num_queries_one2many: int = 0, k_one2many: int = 6,
                 lambda_one2many: float = 1.0) -> None:
        super().__init__(
            num_classes, input_shape, in_features, embed_dims, num_queries, num_encoder_layers,
            num_decoder_layers, num_heads, num_points, ffn_dims, dropout, pe_temperature,
            matcher, loss_cls or dict(type='FocalLoss', alpha=0.25, gamma=2.0, loss_weight=1.0),
            loss_bbox, loss_giou, max_per_img, mixed_query_selection=True,
            look_forward_twice=True, decoder_post_norm=True, aux_head=aux_head,
            aux_loss_weight=aux_loss_weight, num_queries_one2many=num_queries_one2many,
            k_one2many=k_one2many, lambda_one2many=lambda_one2many)
        self.label_embed = nn.Embedding(num_classes, embed_dims)
        self.num_dn_queries = num_dn_queries
        self.label_noise_scale = label_noise_scale
        self.box_noise_scale = box_noise_scale

    def loss(self, feats: dict[str, Tensor],
             data_samples: Sequence[DetDataSample]) -> dict[str, Tensor]:
        """Matching losses (``loss_*``, ``d{i}.loss_*``, ``enc_loss_*``), denoising losses
        (``dn_loss_*``, ``d{i}.dn_loss_*``) and one-to-many losses (``o2m_loss_*``, if any) of
        every decoder layer."""
        levels = self._flatten_levels(feats, data_samples)
        memory = self._encode(levels)
        targets = detr_targets(data_samples, memory.device)
        dn = cdn_queries(targets, self.num_classes, self.label_embed, self.num_dn_queries,
                         self.label_noise_scale, self.box_noise_scale,
                         min(self.num_queries, memory.shape[1]))
        outputs = self._decode(levels, memory, dn, one2many=True)
        aux = {**self.one2many_losses(outputs.pop('one2many', None), targets),
               **self.aux_losses(memory, levels, data_samples)}
        if dn is None:  # no GT anywhere in the batch: no denoising queries
            return {**self.criterion(outputs, targets), **aux}
        num_dn = dn['num_dn']
        layers = outputs['aux_outputs'] + [dict(pred_logits=outputs['pred_logits'],
                                                pred_boxes=outputs['pred_boxes'])]
        split = [({k: v[:, num_dn:] for k, v in layer.items()},
                  {k: v[:, :num_dn] for k, v in layer.items()}) for layer in layers]
        matching = dict(**split[-1][0], aux_outputs=[m for m, _ in split[:-1]],
                        enc_outputs=outputs['enc_outputs'])
        losses = self.criterion(matching, targets)
        num_boxes = sum(len(t['labels']) for t in targets) * dn['num_groups']
        num_boxes = mean_over_ranks(torch.tensor(float(num_boxes), device=memory.device))
        for i, (_, dn_layer) in enumerate(split):
            prefix = '' if i == len(split) - 1 else f'd{i}.'
            layer_losses = self.criterion.loss_by_indices(
                dn_layer['pred_logits'], dn_layer['pred_boxes'], targets, dn['indices'],
                num_boxes.clamp(min=1))
            losses.update({f'{prefix}dn_{k}': v for k, v in layer_losses.items()})
        return {**losses, **aux}

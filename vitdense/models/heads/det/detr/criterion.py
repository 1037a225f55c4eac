"""Set-prediction losses of the DETR family: match, then classify every query and regress the
matched ones."""
from typing import Optional, Sequence, Union

import torch
from mmengine.registry import Registry
from torch import Tensor, nn

from vitdense.models.utils import box_cxcywh_to_xyxy, mean_over_ranks
from vitdense.registry import MODELS, TASK_UTILS

from .matcher import HungarianMatcher

Matches = list[tuple[Tensor, Tensor]]
_OUTPUT_KEYS = ('pred_logits', 'pred_boxes', 'aux_outputs', 'enc_outputs')
_LAYER_KEYS = ('pred_logits', 'pred_boxes')


def _build(registry: Registry, cfg: Union[dict, object], name: str) -> object:
    """A built module from a config dict (through ``registry``), or the module itself."""
    if isinstance(cfg, dict):
        if 'type' not in cfg:
            raise KeyError(f"SetCriterion: {name} config {cfg} has no 'type'; e.g. "
                           f"{name}=dict(type=..., ...)")
        return registry.build(cfg)
    return cfg


def _check_layer(outputs: dict, where: str) -> None:
    """Raise naming the key when a layer's outputs are not exactly pred_logits and pred_boxes."""
    missing = [k for k in _LAYER_KEYS if k not in outputs]
    extra = sorted(set(outputs) - set(_LAYER_KEYS))
    if missing or extra:
        raise KeyError(f'SetCriterion: {where} must hold exactly {_LAYER_KEYS}; missing '
                       f'{missing}, unexpected {extra}')


@MODELS.register_module()
class SetCriterion(nn.Module):
    """Bipartite-matching loss of DETR and Deformable DETR.

    Carion et al. 2020, "End-to-End Object Detection with Transformers" (arXiv 2005.12872), and
    Zhu et al. 2021, "Deformable DETR" (arXiv 2010.04159). Each decoder layer's queries are
    matched one-to-one to the targets (``matcher``); every query is classified (unmatched ones as
    background) and the matched ones regress their target box with L1 and GIoU on normalised
    cxcywh. Box losses and the sigmoid classification loss are divided by the number of target
    boxes averaged over distributed ranks (at least 1), as DETR; the softmax one is the mean
    weighted by class (no-object weighted ``eos_coef``), as DETR's ``F.cross_entropy``.

    Built from ``MODELS`` (it is an ``nn.Module`` holding loss modules); its matcher comes from
    ``TASK_UTILS``, its sub-losses from ``MODELS``. The classification loss declares
    ``use_sigmoid``: True (``FocalLoss``, ``CrossEntropyLoss(use_sigmoid=True)``) for K logits,
    False (``CrossEntropyLoss``) for K + 1 logits with no-object last, which needs ``eos_coef``.

    Loss names follow mmdet: ``loss_cls, loss_bbox, loss_giou`` for the last layer,
    ``d{i}.loss_*`` for ``aux_outputs[i]`` and ``enc_loss_*`` for two-stage proposals.

    Args:
        num_classes: K, real classes (no background).
        matcher: config (``TASK_UTILS``) or instance of the matcher, e.g.
            ``dict(type='HungarianMatcher', cost_class=2.0, cost_bbox=5.0, cost_giou=2.0)``.
        loss_cls: config (``MODELS``) or module of the classification loss.
        loss_bbox: config or module of the L1 box loss, e.g. ``dict(type='L1Loss',
            loss_weight=5.0)``.
        loss_giou: config or module of the GIoU loss, e.g. ``dict(type='GIoULoss',
            loss_weight=2.0)``.
        eos_coef: softmax only: weight of the no-object class (DETR: 0.1).
        enc_class_agnostic: classify two-stage proposals as object vs. not (every target label
            0, as Deformable DETR) instead of by class (as DINO).
    """

    def __init__(self, num_classes: int, matcher: Union[dict, HungarianMatcher],
                 loss_cls: Union[dict, nn.Module], loss_bbox: Union[dict, nn.Module],
                 loss_giou: Union[dict, nn.Module], eos_coef: Optional[float] = None,
                 enc_class_agnostic: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.matcher = _build(TASK_UTILS, matcher, 'matcher')
        self.loss_cls = _build(MODELS, loss_cls, 'loss_cls')
        self.loss_bbox = _build(MODELS, loss_bbox, 'loss_bbox')
        self.loss_giou = _build(MODELS, loss_giou, 'loss_giou')
        if not hasattr(self.loss_cls, 'use_sigmoid'):
            raise AttributeError(f'SetCriterion: loss_cls {type(self.loss_cls).__name__} does not '
                                 'declare use_sigmoid (True: K sigmoid logits, False: K + 1 '
                                 'softmax logits); add it as a class or instance attribute')
        self.use_sigmoid = bool(self.loss_cls.use_sigmoid)
        self._check_class_options(eos_coef)
        self.eos_coef = eos_coef
        self.enc_class_agnostic = enc_class_agnostic

    def _check_class_options(self, eos_coef: Optional[float]) -> None:
        """Raise when eos_coef, the matcher's class cost and the classification loss disagree."""
        kind = 'sigmoid' if self.use_sigmoid else 'softmax'
        if self.use_sigmoid and eos_coef is not None:
            raise ValueError('SetCriterion: eos_coef weights the no-object logit of a softmax '
                             f'loss; loss_cls {type(self.loss_cls).__name__} is sigmoid. Drop '
                             'eos_coef.')
        if not self.use_sigmoid and eos_coef is None:
            raise ValueError('SetCriterion: a softmax loss_cls needs eos_coef, the weight of the '
                             'no-object class (DETR uses 0.1)')
        cost_type = getattr(self.matcher, 'class_cost_type', None)
        if cost_type is not None and (cost_type == 'focal') != self.use_sigmoid:
            raise ValueError(f"SetCriterion: matcher class_cost_type={cost_type!r} does not fit "
                             f"the {kind} loss_cls {type(self.loss_cls).__name__}; use "
                             f"class_cost_type={'focal' if self.use_sigmoid else 'ce'!r}")
        ignore_index = getattr(self.loss_cls, 'ignore_index', None)
        if ignore_index is not None and 0 <= ignore_index <= self.num_classes:
            raise ValueError(f'SetCriterion: loss_cls ignore_index={ignore_index} is a class '
                             f'label here (0..{self.num_classes}, {self.num_classes} = no-object); '
                             'set ignore_index=-100 in loss_cls')

    @property
    def num_logits(self) -> int:
        """Class logits per query the criterion expects: K (sigmoid) or K + 1 (softmax)."""
        return self.num_classes + (not self.use_sigmoid)

    def num_boxes(self, targets: Sequence[dict], device: torch.device) -> Tensor:
        """Target boxes of this rank's batch, averaged over ranks, at least 1 (a scalar)."""
        count = torch.tensor(float(sum(len(t['labels']) for t in targets)), device=device)
        return mean_over_ranks(count).clamp(min=1)

    def loss_by_indices(self, pred_logits: Tensor, pred_boxes: Tensor, targets: Sequence[dict],
                        indices: Matches, num_boxes: Union[float, Tensor]) -> dict[str, Tensor]:
        """Losses of one layer under a given assignment (e.g. DINO's denoising queries).

        Args:
            pred_logits: (B, Q, C) logits, C = :attr:`num_logits`.
            pred_boxes: (B, Q, 4) normalised cxcywh.
            targets: B dicts with ``labels`` (N_b,) and ``boxes`` (N_b, 4) normalised cxcywh.
            indices: B pairs ``(query_idx, target_idx)`` of equal length.
            num_boxes: normaliser of the box and sigmoid classification losses.

        Returns:
            ``loss_cls``, ``loss_bbox``, ``loss_giou`` (scalars, computed in float32).
        """
        batch, num_queries, num_logits = pred_logits.shape
        if num_logits != self.num_logits:
            raise ValueError(f'SetCriterion: pred_logits has {num_logits} logits per query; a '
                             f"{'sigmoid' if self.use_sigmoid else 'softmax'} loss_cls with "
                             f'num_classes={self.num_classes} expects {self.num_logits}')
        if len(targets) != batch or len(indices) != batch:
            raise ValueError(f'SetCriterion: {len(targets)} targets and {len(indices)} index '
                             f'pairs for a batch of {batch}; give one of each per image')
        device = pred_logits.device
        batch_idx = torch.cat([torch.full_like(q, b) for b, (q, _) in enumerate(indices)])  # (P,)
        query_idx = torch.cat([q for q, _ in indices])  # (P,)
        batch_idx, query_idx = batch_idx.to(device), query_idx.to(device)
        matched_labels = torch.cat([t['labels'][j.to(t['labels'].device)].to(device)
                                    for t, (_, j) in zip(targets, indices)])  # (P,)
        matched_boxes = torch.cat([t['boxes'][j.to(t['boxes'].device)].to(device)
                                   for t, (_, j) in zip(targets, indices)])  # (P, 4)
        labels = torch.full((batch, num_queries), self.num_classes, dtype=torch.long,
                            device=device)  # (B, Q), background everywhere
        labels[batch_idx, query_idx] = matched_labels.long()
        losses = {'loss_cls': self._loss_cls(pred_logits.flatten(0, 1).float(),
                                             labels.flatten(), num_boxes)}
        boxes = pred_boxes[batch_idx, query_idx].float()  # (P, 4)
        if boxes.shape[0] == 0:  # no target: zero, but still part of the graph
            zero = pred_boxes.float().sum() * 0
            return {**losses, 'loss_bbox': zero, 'loss_giou': zero.clone()}
        matched_boxes = matched_boxes.float()
        losses['loss_bbox'] = self.loss_bbox(boxes, matched_boxes, avg_factor=num_boxes)
        losses['loss_giou'] = self.loss_giou(box_cxcywh_to_xyxy(boxes),
                                             box_cxcywh_to_xyxy(matched_boxes),
                                             avg_factor=num_boxes)
        return losses

    def _loss_cls(self, logits: Tensor, labels: Tensor, num_boxes: Union[float, Tensor]) -> Tensor:
        """(N, C) logits, (N,) labels with K = background -> the classification loss."""
        if self.use_sigmoid:
            return self.loss_cls(logits, labels, avg_factor=num_boxes)
        weight = torch.where(labels == self.num_classes, self.eos_coef, 1.0)  # (N,)
        return self.loss_cls(logits, labels, weight=weight, avg_factor=weight.sum())

    def loss_by_matching(self, outputs: dict, targets: Sequence[dict],
                         num_boxes: Union[float, Tensor]) -> dict[str, Tensor]:
        """Match one layer's ``pred_logits``/``pred_boxes`` to ``targets``, then its losses."""
        indices = self.matcher(outputs['pred_logits'], outputs['pred_boxes'], targets)
        return self.loss_by_indices(outputs['pred_logits'], outputs['pred_boxes'], targets,
                                    indices, num_boxes)

    def forward(self, outputs: dict, targets: Sequence[dict]) -> dict[str, Tensor]:
        """Losses of the last layer, of every auxiliary layer and of two-stage proposals.

        Args:
            outputs: ``pred_logits`` (B, Q, C), ``pred_boxes`` (B, Q, 4) normalised cxcywh, and
                optionally ``aux_outputs`` (a list of such dicts, one per earlier decoder layer)
                and ``enc_outputs`` (one such dict of two-stage proposals).
            targets: B dicts with ``labels`` (N_b,) and ``boxes`` (N_b, 4) normalised cxcywh.

        Returns:
            ``loss_cls, loss_bbox, loss_giou``, ``d{i}.loss_*`` per auxiliary layer and
            ``enc_loss_*`` for proposals.
        """
        unexpected = sorted(set(outputs) - set(_OUTPUT_KEYS))
        if unexpected:
            raise KeyError(f'SetCriterion: unexpected outputs {unexpected}; it reads '
                           f'{_OUTPUT_KEYS}. Compute other losses (e.g. denoising) with '
                           'loss_by_indices')
        last = {k: outputs[k] for k in _LAYER_KEYS if k in outputs}
        _check_layer(last, 'outputs')
        num_boxes = self.num_boxes(targets, outputs['pred_logits'].device)
        losses = self.loss_by_matching(last, targets, num_boxes)
        for i, aux in enumerate(outputs.get('aux_outputs', ())):
            _check_layer(aux, f'aux_outputs[{i}]')
            layer = self.loss_by_matching(aux, targets, num_boxes)
            losses.update({f'd{i}.{k}': v for k, v in layer.items()})
        if 'enc_outputs' in outputs:
            _check_layer(outputs['enc_outputs'], 'enc_outputs')
            enc_targets = targets
            if self.enc_class_agnostic:
                enc_targets = [{**t, 'labels': torch.zeros_like(t['labels'])} for t in targets]
            layer = self.loss_by_matching(outputs['enc_outputs'], enc_targets, num_boxes)
            losses.update({f'enc_{k}': v for k, v in layer.items()})
        return losses

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, matcher={self.matcher!r}, use_sigmoid='
                f'{self.use_sigmoid}, eos_coef={self.eos_coef}, enc_class_agnostic='
                f'{self.enc_class_agnostic}')

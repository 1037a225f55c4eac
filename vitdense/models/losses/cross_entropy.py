"""Cross-entropy losses: softmax over a class axis (segmentation, classification) or per-element
sigmoid (binary targets such as FCOS centerness), with an ignore label (mmseg/mmdet semantics)."""
from typing import Optional, Sequence, Union

import torch.nn.functional as F
from torch import Tensor, nn

from vitdense.registry import MODELS

from .utils import check_reduction, register_class_weight, weight_reduce_loss


def softmax_cross_entropy(pred: Tensor, label: Tensor, weight: Optional[Tensor] = None,
                          class_weight: Optional[Tensor] = None, ignore_index: int = 255,
                          reduction: str = 'mean',
                          avg_factor: Optional[Union[float, Tensor]] = None,
                          avg_non_ignore: bool = True, label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy with an ignore label.

    Args:
        pred: (N, C) or (B, C, H, W) logits.
        label: (N,) or (B, H, W) integer labels; ``ignore_index`` entries contribute nothing.
        weight: element weights shaped like ``label``.
        class_weight: (C,) per-class weights.
        ignore_index: label value to ignore.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor: explicit normaliser for ``'mean'``.
        avg_non_ignore: with ``'mean'`` and no ``avg_factor``, average over non-ignored elements
            only (otherwise over all elements, as mmseg's default).
        label_smoothing: mix the one-hot target with the uniform distribution by this amount
            (Szegedy et al. 2016, "Rethinking the Inception Architecture", arXiv 1512.00567).

    Returns:
        Scalar loss, or a loss shaped like ``label`` with ``reduction='none'``.
    """
    loss = F.cross_entropy(pred, label.long(), weight=class_weight, reduction='none',
                           ignore_index=ignore_index, label_smoothing=label_smoothing)
    if avg_factor is None and avg_non_ignore and reduction == 'mean':
        avg_factor = (label != ignore_index).sum().float()
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


def sigmoid_cross_entropy(pred: Tensor, label: Tensor, weight: Optional[Tensor] = None,
                          class_weight: Optional[Tensor] = None, ignore_index: int = 255,
                          reduction: str = 'mean',
                          avg_factor: Optional[Union[float, Tensor]] = None,
                          avg_non_ignore: bool = True) -> Tensor:
    """Per-element binary cross-entropy on logits.

    Args:
        pred: logits, any shape, e.g. (N,) or (N, C) or (B, C, H, W).
        label: targets shaped like ``pred`` (binary or soft, in [0, 1]), or integer labels with
            the class axis (dim 1) of ``pred`` missing, expanded to one-hot; there,
            ``ignore_index`` and negative entries are ignored and labels >= C are all-negative.
        weight: element weights broadcastable to ``pred``.
        class_weight: (C,) weights over the class axis (dim 1).
        ignore_index: label value to ignore (integer labels only).
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor: explicit normaliser for ``'mean'``.
        avg_non_ignore: with ``'mean'`` and no ``avg_factor``, average over non-ignored elements.

    Returns:
        Scalar loss, or a loss shaped like ``pred`` with ``reduction='none'``.
    """
    valid = None
    if label.dim() == pred.dim() - 1:
        num_classes = pred.shape[1]
        valid = (label >= 0) & (label != ignore_index)  # like label
        hot = label.long().masked_fill(~valid | (label >= num_classes), num_classes)
        target = F.one_hot(hot, num_classes + 1)[..., :num_classes]  # (N, ..., C)
        target = target.movedim(-1, 1).to(pred.dtype)  # class axis to dim 1, like pred
        valid = valid.unsqueeze(1).to(pred.dtype)  # broadcast over classes
    elif label.shape == pred.shape:
        target = label.to(pred.dtype)
    else:
        raise ValueError(f'sigmoid cross-entropy: label must be shaped like pred '
                         f'{tuple(pred.shape)} or like pred without dim 1, got '
                         f'{tuple(label.shape)}')
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none')
    if class_weight is not None:
        loss = loss * class_weight.view(1, -1, *([1] * (pred.dim() - 2)))  # (1, C, 1, ...)
    if valid is not None:
        weight = valid if weight is None else weight * valid
        if avg_factor is None and avg_non_ignore and reduction == 'mean':
            avg_factor = valid.sum() * pred.shape[1]
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Cross-entropy loss: softmax over classes, or per-element sigmoid (``use_sigmoid``).

    Args:
        use_sigmoid: binary cross-entropy per element instead of softmax over dim 1.
        ignore_index: label value that contributes nothing (255 in ADE20K-style masks).
        loss_weight: multiplier of the result.
        avg_non_ignore: ``'mean'`` averages over non-ignored elements only.
        class_weight: per-class weights, or None.
        reduction: default reduction, ``'none'``, ``'mean'`` or ``'sum'``.
        label_smoothing: softmax only: target = (1 - s) * one-hot + s / C.
    """

    def __init__(self, use_sigmoid: bool = False, ignore_index: int = 255,
                 loss_weight: float = 1.0, avg_non_ignore: bool = True,
                 class_weight: Optional[Sequence[float]] = None,
                 reduction: str = 'mean', label_smoothing: float = 0.0) -> None:
        super().__init__()
        check_reduction(reduction, 'CrossEntropyLoss')
        if not 0 <= label_smoothing < 1:
            raise ValueError(f'CrossEntropyLoss label_smoothing must be in [0, 1), got '
                             f'{label_smoothing}.')
        if label_smoothing and use_sigmoid:
            raise ValueError('CrossEntropyLoss label_smoothing is supported with softmax only; '
                             'set use_sigmoid=False or label_smoothing=0.')
        self.label_smoothing = label_smoothing
        self.use_sigmoid = use_sigmoid
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self.avg_non_ignore = avg_non_ignore
        self.reduction = reduction
        self.class_weight: Optional[Tensor]
        register_class_weight(self, class_weight)

    def forward(self, pred: Tensor, label: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """See :func:`softmax_cross_entropy` / :func:`sigmoid_cross_entropy` for shapes."""
        reduction = reduction_override or self.reduction
        check_reduction(reduction, 'CrossEntropyLoss')
        class_weight = None if self.class_weight is None else self.class_weight.to(pred.dtype)
        if self.use_sigmoid:
            return self.loss_weight * sigmoid_cross_entropy(
                pred, label, weight, class_weight, self.ignore_index, reduction, avg_factor,
                self.avg_non_ignore)
        return self.loss_weight * softmax_cross_entropy(
            pred, label, weight, class_weight, self.ignore_index, reduction, avg_factor,
            self.avg_non_ignore, self.label_smoothing)

    def extra_repr(self) -> str:
        return (f'use_sigmoid={self.use_sigmoid}, ignore_index={self.ignore_index}, '
                f'loss_weight={self.loss_weight}, avg_non_ignore={self.avg_non_ignore}, '
                f'label_smoothing={self.label_smoothing}')

"""Sigmoid focal loss, Lin et al. 2017, "Focal Loss for Dense Object Detection" (arXiv 1708.02002).

``FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t)`` on per-class sigmoid probabilities, computed from
logits with ``binary_cross_entropy_with_logits`` for stability.
"""
from typing import Optional, Union

import torch.nn.functional as F
from torch import Tensor, nn

from vitdense.registry import MODELS

from .utils import check_reduction, weight_reduce_loss


def _as_binary_targets(pred: Tensor, target: Tensor) -> Tensor:
    """(N, K) one-hot float targets from (N,) labels in [0, K] (K = background) or (N, K)."""
    if target.shape == pred.shape:
        return target.to(pred.dtype)
    if target.dim() != 1 or target.shape[0] != pred.shape[0]:
        raise ValueError(f'focal loss: target must be (N,) class indices or (N, K) like pred '
                         f'{tuple(pred.shape)}, got {tuple(target.shape)}')
    num_classes = pred.shape[1]
    # (N, K + 1) one-hot, then drop the background column.
    return F.one_hot(target.long(), num_classes + 1)[:, :num_classes].to(pred.dtype)


def sigmoid_focal_loss(pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                       alpha: float = 0.25, gamma: float = 2.0, reduction: str = 'mean',
                       avg_factor: Optional[Union[float, Tensor]] = None) -> Tensor:
    """Sigmoid focal loss.

    Args:
        pred: (N, K) logits.
        target: (N,) labels in [0, K], where K means background, or (N, K) binary (or soft)
            targets.
        weight: (N,) per-sample or (N, K) per-element weights.
        alpha: weight of positives (``1 - alpha`` for negatives); negative disables it.
        gamma: focusing exponent.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor: normaliser of the summed loss for ``'mean'`` (e.g. number of positives).

    Returns:
        Scalar loss, or (N, K) with ``reduction='none'``.
    """
    target = _as_binary_targets(pred, target)
    prob = pred.sigmoid()
    p_t = prob * target + (1 - prob) * (1 - target)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none') * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    if weight is not None and weight.dim() == 1:
        weight = weight[:, None]  # (N, 1) broadcast over classes
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


@MODELS.register_module()
class FocalLoss(nn.Module):
    """Sigmoid focal loss (Lin et al. 2017, arXiv 1708.02002) as a module.

    Args:
        alpha: weight of positives; ``1 - alpha`` for negatives.
        gamma: focusing exponent.
        reduction: default reduction, ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: multiplier of the result.
    """

    #: Classification losses declare this: True for K per-class sigmoid logits (no background
    #: logit), False for K + 1 softmax logits (DETR's no-object class last).
    use_sigmoid = True

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_reduction(reduction, 'FocalLoss')
        self.alpha = alpha
        self.gamma = gamma
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """See :func:`sigmoid_focal_loss` for shapes; returns ``loss_weight`` times the loss."""
        reduction = reduction_override or self.reduction
        return self.loss_weight * sigmoid_focal_loss(
            pred, target, weight, self.alpha, self.gamma, reduction, avg_factor)

    def extra_repr(self) -> str:
        return (f'alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')

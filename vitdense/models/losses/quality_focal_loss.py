"""Quality focal loss, Li et al. 2020, "Generalized Focal Loss: Learning Qualified and Distributed
Bounding Boxes for Dense Object Detection" (arXiv 2006.04388).

The classifier's target for a positive is not 1 but the quality of its box (the IoU of the
predicted box with its ground truth), so the score that ranks detections at test time is trained
to rank them by localisation too. ``QFL(p) = -|y - p|^beta ((1 - y) log(1 - p) + y log(p))`` on
per-class sigmoid probabilities ``p``, with soft targets ``y`` in [0, 1] (0 for every class of a
negative and for the other classes of a positive).
"""
from typing import Optional, Union

import torch.nn.functional as F
from torch import Tensor, nn

from vitdense.registry import MODELS

from .utils import check_reduction, weight_reduce_loss


def quality_focal_loss(pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                       beta: float = 2.0, reduction: str = 'mean',
                       avg_factor: Optional[Union[float, Tensor]] = None) -> Tensor:
    """Quality focal loss.

    Args:
        pred: (N, K) logits.
        target: (N, K) soft targets in [0, 1] (the box quality at a positive's class, else 0).
        weight: (N,) per-sample or (N, K) per-element weights.
        beta: exponent of the modulating factor ``|target - sigmoid(pred)|``.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor: normaliser of the summed loss for ``'mean'`` (e.g. number of positives).

    Returns:
        Scalar loss, or (N, K) with ``reduction='none'``.
    """
    if target.shape != pred.shape:
        raise ValueError(f'quality focal loss: target must be (N, K) soft scores like pred '
                         f'{tuple(pred.shape)}, got {tuple(target.shape)}')
    target = target.to(pred.dtype)
    modulator = (target - pred.sigmoid()).abs().pow(beta)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none') * modulator
    if weight is not None and weight.dim() == 1:
        weight = weight[:, None]  # (N, 1) broadcast over classes
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


@MODELS.register_module()
class QualityFocalLoss(nn.Module):
    """Quality focal loss (Li et al. 2020, arXiv 2006.04388) as a module, mmdet's name.

    A dense head that finds ``quality_targets`` True on its classification loss passes (N, K)
    soft targets (the IoU of each positive's decoded box with its ground truth, at its class)
    instead of (N,) labels; :class:`~vitdense.models.heads.det.fcos_head.FCOSHead` does.

    Args:
        beta: exponent of the modulating factor.
        reduction: default reduction, ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: multiplier of the result.
    """

    #: K per-class sigmoid logits (no background logit), as FocalLoss.
    use_sigmoid = True
    #: Targets are box qualities, not one-hot labels.
    quality_targets = True

    def __init__(self, beta: float = 2.0, reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_reduction(reduction, 'QualityFocalLoss')
        self.beta = beta
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """See :func:`quality_focal_loss` for shapes; returns ``loss_weight`` times the loss."""
        reduction = reduction_override or self.reduction
        return self.loss_weight * quality_focal_loss(
            pred, target, weight, self.beta, reduction, avg_factor)

    def extra_repr(self) -> str:
        return f'beta={self.beta}, reduction={self.reduction!r}, loss_weight={self.loss_weight}'

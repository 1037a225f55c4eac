"""Generalized IoU loss, Rezatofighi et al. 2019, "Generalized Intersection over Union: A Metric
and A Loss for Bounding Box Regression" (arXiv 1902.09630): ``1 - GIoU(pred, target)``."""
from typing import Optional, Union

from torch import Tensor, nn

from vitdense.models.utils.box_ops import aligned_giou
from vitdense.registry import MODELS

from .utils import check_reduction, weight_reduce_loss


def giou_loss(pred: Tensor, target: Tensor, weight: Optional[Tensor] = None, eps: float = 1e-6,
              reduction: str = 'mean',
              avg_factor: Optional[Union[float, Tensor]] = None) -> Tensor:
    """GIoU loss of corresponding boxes.

    Args:
        pred: (N, 4) xyxy.
        target: (N, 4) xyxy.
        weight: (N,) per-box weights, or (N, 4) (averaged over the last axis, as mmdet).
        eps: lower bound of union and enclosing areas.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor: normaliser of the summed loss for ``'mean'``.

    Returns:
        Scalar loss, or (N,) with ``reduction='none'``.
    """
    if weight is not None and weight.dim() == 2:
        weight = weight.mean(dim=-1)  # (N, 4) -> (N,)
    loss = 1 - aligned_giou(pred, target, eps=eps)
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


@MODELS.register_module()
class GIoULoss(nn.Module):
    """Generalized IoU loss (Rezatofighi et al. 2019, arXiv 1902.09630) as a module.

    Args:
        eps: lower bound of union and enclosing areas.
        reduction: default reduction, ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: multiplier of the result.
    """

    def __init__(self, eps: float = 1e-6, reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_reduction(reduction, 'GIoULoss')
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """See :func:`giou_loss` for shapes; returns ``loss_weight`` times the loss."""
        reduction = reduction_override or self.reduction
        return self.loss_weight * giou_loss(pred, target, weight, self.eps, reduction,
                                            avg_factor)

    def extra_repr(self) -> str:
        return f'eps={self.eps}, reduction={self.reduction!r}, loss_weight={self.loss_weight}'

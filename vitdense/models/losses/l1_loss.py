"""L1 loss, element-wise ``|pred - target|``, with mmdet's weight / avg_factor semantics.

DETR-style criteria regress normalised cxcywh boxes with it (Carion et al. 2020, "End-to-End
Object Detection with Transformers", arXiv 2005.12872): the summed error of the matched boxes
divided by the number of target boxes (``avg_factor``).
"""
from typing import Optional, Union

from torch import Tensor, nn

from vitdense.registry import MODELS

from .utils import check_reduction, weight_reduce_loss


def l1_loss(pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
            reduction: str = 'mean', avg_factor: Optional[Union[float, Tensor]] = None) -> Tensor:
    """L1 loss of corresponding elements.

    Args:
        pred: (N, D) predictions, e.g. D = 4 box coordinates.
        target: (N, D) targets.
        weight: (N, D) element or (N,) per-row weights.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor: normaliser of the summed loss for ``'mean'`` (e.g. the number of boxes: the
            sum runs over all N x D elements, as mmdet and DETR).

    Returns:
        Scalar loss, or (N, D) with ``reduction='none'``.
    """
    if pred.shape != target.shape:
        raise ValueError(f'l1 loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} '
                         'must have the same shape')
    if weight is not None and weight.dim() == 1 and pred.dim() == 2:
        weight = weight[:, None]  # (N, 1) broadcast over D
    return weight_reduce_loss((pred - target).abs(), weight, reduction, avg_factor)


@MODELS.register_module()
class L1Loss(nn.Module):
    """L1 loss as a module (the box regression term of DETR, arXiv 2005.12872).

    Args:
        reduction: default reduction, ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: multiplier of the result.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0) -> None:
        super().__init__()
        check_reduction(reduction, 'L1Loss')
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """See :func:`l1_loss` for shapes; returns ``loss_weight`` times the loss."""
        reduction = reduction_override or self.reduction
        return self.loss_weight * l1_loss(pred, target, weight, reduction, avg_factor)

    def extra_repr(self) -> str:
        return f'reduction={self.reduction!r}, loss_weight={self.loss_weight}'

"""Loss reduction shared by every loss: element weights, then mean / sum / none or a sum divided
by an explicit normaliser (``avg_factor``), with mmdet's semantics; per-class weights as a
buffer."""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor, nn

REDUCTIONS = ('none', 'mean', 'sum')
_EPS = torch.finfo(torch.float32).eps


def check_reduction(reduction: str, where: str) -> None:
    """Raise a ValueError naming ``where`` when ``reduction`` is not none / mean / sum."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'{where}: reduction must be one of {REDUCTIONS}, got {reduction!r}')


def weight_reduce_loss(loss: Tensor, weight: Optional[Tensor] = None, reduction: str = 'mean',
                       avg_factor: Optional[Union[float, Tensor]] = None) -> Tensor:
    """Weight an element-wise loss and reduce it.

    Args:
        loss: element-wise loss, any shape.
        weight: broadcastable to ``loss``; multiplies it element-wise.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor: with ``'mean'``, the loss is ``sum / (avg_factor + eps)`` instead of a plain
            mean (e.g. the number of positive samples). Not allowed with ``'sum'``.

    Returns:
        The reduced loss (a scalar unless ``reduction='none'``).
    """
    check_reduction(reduction, 'weight_reduce_loss')
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        if reduction == 'mean':
            return loss.mean()
        return loss.sum() if reduction == 'sum' else loss
    if reduction == 'mean':
        return loss.sum() / (avg_factor + _EPS)
    if reduction == 'sum':
        raise ValueError('weight_reduce_loss: avg_factor can only be used with reduction="mean"; '
                         'pass reduction="mean" or drop avg_factor')
    return loss


def register_class_weight(module: nn.Module, class_weight: Optional[Sequence[float]]) -> None:
    """Store per-class weights on ``module`` as ``module.class_weight``: a float32 buffer that
    follows the module's device and is not saved in checkpoints (a config value), or None."""
    weight = None if class_weight is None else torch.tensor(list(class_weight), dtype=torch.float)
    module.register_buffer('class_weight', weight, persistent=False)

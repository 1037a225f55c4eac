"""Dice loss for semantic segmentation (Milletari et al. 2016, "V-Net", arXiv 1606.04797), with
mmseg's keys: a softmax over the classes, one Dice term per class and image, averaged."""
from typing import Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from vitdense.registry import MODELS

from .utils import check_reduction, register_class_weight, weight_reduce_loss


def softmax_dice_loss(pred: Tensor, label: Tensor, class_weight: Optional[Tensor] = None,
                      ignore_index: int = 255, smooth: float = 1.0,
                      exponent: float = 2.0) -> Tensor:
    """Per-image, per-class Dice loss of softmax probabilities.

    For image b and class c, over its non-ignored pixels,
    ``dice = (2 * sum(p * y) + smooth) / (sum(p ** exponent) + sum(y ** exponent) + smooth)``;
    the loss is ``1 - dice``, weighted by ``class_weight`` and averaged over the classes (mmseg
    0.x's ``DiceLoss``). A class absent from an image and not predicted there scores ~0 loss
    (through ``smooth``); one it predicts there is penalised.

    Args:
        pred: (B, C, H, W) logits.
        label: (B, H, W) integer labels; ``ignore_index`` pixels count in neither sum.
        class_weight: (C,) per-class weights, or None.
        ignore_index: label value to ignore.
        smooth: added to the numerator and the denominator.
        exponent: power of the probabilities and the one-hot targets in the denominator.

    Returns:
        (B,) loss per image.
    """
    num_classes = pred.shape[1]
    valid = (label != ignore_index).unsqueeze(1).to(pred.dtype)  # (B, 1, H, W)
    prob = pred.softmax(dim=1) * valid
    onehot = F.one_hot(label.long().clamp(0, num_classes - 1), num_classes)
    target = onehot.permute(0, 3, 1, 2).to(pred.dtype) * valid  # (B, C, H, W)
    inter = (prob * target).flatten(2).sum(-1)
    denom = (prob.pow(exponent) + target.pow(exponent)).flatten(2).sum(-1)
    loss = 1 - (2 * inter + smooth) / (denom + smooth)  # (B, C)
    if class_weight is not None:
        loss = loss * class_weight
    return loss.mean(dim=1)


@MODELS.register_module()
class DiceLoss(nn.Module):
    """Dice loss over the classes of a segmentation (:func:`softmax_dice_loss`).

    It weighs every class alike whatever its pixel count, so it pushes a decoder to predict the
    rare classes a pixel-averaged cross-entropy lets it skip; used beside cross-entropy as a list
    in ``loss_decode``, as in mmseg.

    Args:
        smooth: added to the numerator and the denominator of each Dice term.
        exponent: power in the denominator (2, as mmseg; 1 is the plain Dice coefficient).
        class_weight: per-class weights, or None.
        loss_weight: multiplier of the result.
        ignore_index: label value that contributes nothing.
        reduction: over the images, ``'mean'``, ``'sum'`` or ``'none'``.
        loss_name: the key of the loss in the head's loss dict.
    """

    def __init__(self, smooth: float = 1.0, exponent: float = 2.0,
                 class_weight: Optional[Sequence[float]] = None, loss_weight: float = 1.0,
                 ignore_index: int = 255, reduction: str = 'mean',
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        check_reduction(reduction, 'DiceLoss')
        if smooth < 0 or exponent <= 0:
            raise ValueError(f'DiceLoss needs smooth >= 0 and exponent > 0, got smooth={smooth}, '
                             f'exponent={exponent}.')
        self.smooth = smooth
        self.exponent = exponent
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.loss_name = loss_name
        self.class_weight: Optional[Tensor]
        register_class_weight(self, class_weight)

    def forward(self, pred: Tensor, label: Tensor,
                reduction_override: Optional[str] = None) -> Tensor:
        """(B, C, H, W) logits and (B, H, W) labels -> the loss, reduced over the images."""
        reduction = reduction_override or self.reduction
        check_reduction(reduction, 'DiceLoss')
        if self.class_weight is not None and self.class_weight.numel() != pred.shape[1]:
            raise ValueError(f'DiceLoss class_weight has {self.class_weight.numel()} entries for '
                             f'{pred.shape[1]} classes; give one weight per class.')
        class_weight = None if self.class_weight is None else self.class_weight.to(pred.dtype)
        loss = softmax_dice_loss(pred, label, class_weight, self.ignore_index, self.smooth,
                                 self.exponent)
        return self.loss_weight * weight_reduce_loss(loss, reduction=reduction)

    def extra_repr(self) -> str:
        return (f'smooth={self.smooth}, exponent={self.exponent}, '
                f'loss_weight={self.loss_weight}, ignore_index={self.ignore_index}')

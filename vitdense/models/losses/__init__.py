from .cross_entropy import CrossEntropyLoss, sigmoid_cross_entropy, softmax_cross_entropy
from .dice_loss import DiceLoss, softmax_dice_loss
from .focal_loss import FocalLoss, sigmoid_focal_loss
from .iou_loss import GIoULoss, giou_loss
from .l1_loss import L1Loss, l1_loss
from .quality_focal_loss import QualityFocalLoss, quality_focal_loss
from .utils import weight_reduce_loss

__all__ = [
    'CrossEntropyLoss', 'DiceLoss', 'FocalLoss', 'GIoULoss', 'L1Loss', 'QualityFocalLoss',
    'giou_loss', 'l1_loss', 'quality_focal_loss', 'sigmoid_cross_entropy', 'sigmoid_focal_loss',
    'softmax_cross_entropy', 'softmax_dice_loss', 'weight_reduce_loss',
]

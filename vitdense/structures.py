"""Data samples (mmdet 3.x / mmseg 1.x / mmpretrain 1.x field names) and the backbone shape
record."""
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from mmengine.structures import BaseDataElement, InstanceData, PixelData


@dataclass(frozen=True)
class ShapeSpec:
    """Channels and stride (in input pixels) of one output of a backbone or neck.

    A map ``(B, channels, h, w)`` has ``stride > 0``. ``stride == 0`` marks a token
    ``(B, channels)`` instead (a ViT's ``b{i}_cls``), which has no grid; code that reads maps
    skips it.
    """

    channels: int
    stride: int


def stride_key(stride: int) -> str:
    """The key ``p{log2(stride)}`` of the map at that stride: ``p4`` for stride 16.

    A stride that is not a power of two (a ViT with 14-pixel patches) gets the key of the power
    of two below it; its ``ShapeSpec`` keeps the true stride.
    """
    return f'p{int(math.log2(stride))}'


class DetDataSample(BaseDataElement):
    """One image's detection sample.

    Fields: ``gt_instances`` (``bboxes`` (N, 4) xyxy in input pixels, ``labels`` (N,)),
    ``ignored_instances`` (crowd boxes), ``pred_instances`` (``bboxes`` xyxy in original image
    pixels, ``scores``, ``labels``), and, where the pipeline loads a label map, ``gt_sem_seg``
    (a :class:`PixelData` of (1, H, W) labels, as mmdet's; what a detector's ``semantic_head``
    learns from). Metainfo: ``img_id``, ``img_path``, ``ori_shape``, ``img_shape``,
    ``pad_shape``, ``scale_factor`` (w, h), ``flip``, ``flip_direction``.
    """

    gt_instances: InstanceData
    ignored_instances: InstanceData
    pred_instances: InstanceData
    gt_sem_seg: PixelData


class SegDataSample(BaseDataElement):
    """One image's segmentation sample: ``gt_sem_seg``, ``pred_sem_seg`` and ``seg_logits``.

    Each is a :class:`PixelData` whose ``data`` is (1, H, W) (labels) or (C, H, W) (logits).
    """

    gt_sem_seg: PixelData
    pred_sem_seg: PixelData
    seg_logits: PixelData


def _typed_property(name: str, kind: type) -> property:
    def fget(self):
        return getattr(self, f'_{name}')

    def fset(self, value):
        if not isinstance(value, kind):
            raise TypeError(f'{name} must be a {kind.__name__}, got {type(value).__name__}')
        self.set_field(value, f'_{name}', dtype=kind)

    def fdel(self):
        del self[f'_{name}']

    return property(fget, fset, fdel)


for _name in ('gt_instances', 'ignored_instances', 'pred_instances'):
    setattr(DetDataSample, _name, _typed_property(_name, InstanceData))
DetDataSample.gt_sem_seg = _typed_property('gt_sem_seg', PixelData)
for _name in ('gt_sem_seg', 'pred_sem_seg', 'seg_logits'):
    setattr(SegDataSample, _name, _typed_property(_name, PixelData))


def format_label(value: int | Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """A class index (or several) as a 1-D int64 tensor, as mmpretrain's ``format_label``.

    A single index (int or 0-d tensor/array) becomes shape (1,); a sequence of N indices (N,).
    """
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        value = value.reshape(1)  # (1,)
    if isinstance(value, (bool, str, bytes)) or not isinstance(
            value, (int, Sequence, np.ndarray, torch.Tensor)):
        raise TypeError(f'A label must be an int, a sequence of ints, an array or a tensor, '
                        f'got {type(value).__name__}.')
    if isinstance(value, int):
        return torch.tensor([value], dtype=torch.long)  # (1,)
    label = torch.as_tensor(np.asarray(value) if isinstance(value, np.ndarray) else value)
    if label.is_floating_point() or label.ndim != 1:
        raise TypeError(f'A label tensor must hold integer class indices in one dimension, got '
                        f'dtype {label.dtype} and shape {tuple(label.shape)}.')
    return label.long()


def format_score(value: Sequence[float] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """Class scores as a 1-D float tensor (K,), as mmpretrain's ``format_score``.

    Arrays and sequences become float32; a floating-point tensor keeps its dtype.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray,
                                                                 torch.Tensor)):
        raise TypeError(f'A score must be a sequence, an array or a tensor, got '
                        f'{type(value).__name__}.')
    score = value if isinstance(value, torch.Tensor) else torch.as_tensor(
        np.asarray(value), dtype=torch.float32)
    if score.ndim != 1:
        raise ValueError(f'A score must be one value per class (K,), got shape '
                         f'{tuple(score.shape)}.')
    return score if score.is_floating_point() else score.float()


class ClsDataSample(BaseDataElement):
    """One image's classification sample (mmpretrain 1.x ``DataSample`` field names).

    Fields: ``gt_label`` and ``pred_label`` (int64 (1,) for one class index, (N,) for several),
    ``pred_score`` (float (K,), the softmax over the K classes). Assigning an int, a sequence or
    an array converts it; ``set_gt_label`` / ``set_pred_label`` / ``set_pred_score`` do the same
    and return the sample, as mmpretrain's. Metainfo: ``img_path``, ``ori_shape``, ``img_shape``.
    """

    gt_label: torch.Tensor
    pred_label: torch.Tensor
    pred_score: torch.Tensor

    def set_gt_label(self, value: int | Sequence[int] | np.ndarray | torch.Tensor
                     ) -> 'ClsDataSample':
        """Set ``gt_label`` and return the sample."""
        self.gt_label = value
        return self

    def set_pred_label(self, value: int | Sequence[int] | np.ndarray | torch.Tensor
                       ) -> 'ClsDataSample':
        """Set ``pred_label`` and return the sample."""
        self.pred_label = value
        return self

    def set_pred_score(self, value: Sequence[float] | np.ndarray | torch.Tensor
                       ) -> 'ClsDataSample':
        """Set ``pred_score`` and return the sample."""
        self.pred_score = value
        return self


def _converted_property(name: str, convert: Callable[[Any], torch.Tensor]) -> property:
    def fget(self):
        return getattr(self, f'_{name}')

    def fset(self, value):
        self.set_field(convert(value), f'_{name}', dtype=torch.Tensor)

    def fdel(self):
        del self[f'_{name}']

    return property(fget, fset, fdel)


for _name in ('gt_label', 'pred_label'):
    setattr(ClsDataSample, _name, _converted_property(_name, format_label))
ClsDataSample.pred_score = _converted_property('pred_score', format_score)

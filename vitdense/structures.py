"""Data samples (mmdet 3.x / mmseg 1.x field names) and the backbone shape record."""
from dataclasses import dataclass

from mmengine.structures import BaseDataElement, InstanceData, PixelData


@dataclass(frozen=True)
class ShapeSpec:
    """Channels and stride (in input pixels) of one feature map."""

    channels: int
    stride: int


class DetDataSample(BaseDataElement):
    """One image's detection sample.

    Fields: ``gt_instances`` (``bboxes`` (N, 4) xyxy in input pixels, ``labels`` (N,)),
    ``ignored_instances`` (crowd boxes), ``pred_instances`` (``bboxes`` xyxy in original image
    pixels, ``scores``, ``labels``). Metainfo: ``img_id``, ``img_path``, ``ori_shape``,
    ``img_shape``, ``pad_shape``, ``scale_factor`` (w, h), ``flip``, ``flip_direction``.
    """

    gt_instances: InstanceData
    ignored_instances: InstanceData
    pred_instances: InstanceData


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
for _name in ('gt_sem_seg', 'pred_sem_seg', 'seg_logits'):
    setattr(SegDataSample, _name, _typed_property(_name, PixelData))

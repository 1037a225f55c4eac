"""Packing transforms: results dict -> ``dict(inputs=uint8 (3, H, W) tensor, data_samples=...)``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData, PixelData

from vitdense.registry import TRANSFORMS
from vitdense.structures import ClsDataSample, DetDataSample, SegDataSample

# Meta keys that transforms leave out when they do nothing (no resize, no flip, no labels).
# gt_bboxes_scale_factor: the factor the boxes were resized by (None: no boxes loaded, or loaded
# before any resize, as scale_factor); it differs from scale_factor when the boxes are loaded
# after the image's Resize (mmdet's test order), so that evaluation maps each back correctly.
META_DEFAULTS = dict(scale_factor=(1.0, 1.0), flip=False, flip_direction=None, seg_map_path=None,
                     reduce_zero_label=False, gt_bboxes_scale_factor=None)
DET_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                 'flip_direction', 'gt_bboxes_scale_factor')
CLS_META_KEYS = ('img_path', 'ori_shape', 'img_shape')
SEG_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                 'flip_direction', 'reduce_zero_label')


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, C) array -> contiguous (C, H, W) tensor of the same dtype (BGR stays BGR)."""
    if img.ndim == 2:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))  # (C, H, W)


def collect_meta(results: dict, keys: Sequence[str], name: str) -> dict:
    """``results[key]`` per meta key (defaults from ``META_DEFAULTS``); a missing key raises."""
    meta = {}
    for key in keys:
        if key in results:
            meta[key] = results[key]
        elif key in META_DEFAULTS:
            meta[key] = META_DEFAULTS[key]
        else:
            raise KeyError(f"{name} meta key '{key}' is not in the results (keys: "
                           f'{sorted(results)}); add the transform that sets it to the pipeline, '
                           'or leave it out of meta_keys.')
    return meta


class _PackInputs(BaseTransform):
    """Shared by the packing transforms: ``inputs`` (3, H, W) uint8 BGR and a data sample of
    ``SAMPLE`` type with ``meta_keys`` (default ``META_KEYS``) in its metainfo; a subclass adds
    its ground truth in :meth:`add_targets`.

    Args:
        meta_keys: results keys copied into the sample's metainfo.
    """

    SAMPLE: type = DetDataSample
    META_KEYS: tuple[str, ...] = ()

    def __init__(self, meta_keys: Sequence[str] | None = None) -> None:
        self.meta_keys = tuple(self.META_KEYS if meta_keys is None else meta_keys)

    def add_targets(self, sample, results: dict) -> None:
        """Put the ground truth of ``results`` (when it has some) into ``sample``."""

    def transform(self, results: dict) -> dict:
        sample = self.SAMPLE(metainfo=collect_meta(results, self.meta_keys, type(self).__name__))
        if results.get('skipped_files'):  # LoadImageFromFile(on_error='skip'), for the hook
            sample.set_metainfo(dict(skipped_files=list(results['skipped_files'])))
        self.add_targets(sample, results)
        return dict(inputs=image_to_tensor(results['img']), data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class PackDetInputs(_PackInputs):
    """Pack a detection sample: ``inputs`` (3, H, W) uint8 BGR and a :class:`DetDataSample`.

    ``gt_instances`` holds the boxes whose ignore flag is off (``bboxes`` (N, 4) float32 xyxy,
    ``labels`` (N,) int64), ``ignored_instances`` the others. Both are left out when the
    results have no ``gt_bboxes`` (inference). ``gt_sem_seg`` as :class:`PackSegInputs`, when
    the results have a ``gt_seg_map``.

    Args:
        meta_keys: results keys copied into the sample's metainfo (default ``DET_META_KEYS``).
    """

    SAMPLE, META_KEYS = DetDataSample, DET_META_KEYS

    def add_targets(self, sample: DetDataSample, results: dict) -> None:
        _add_sem_seg(sample, results)
        if 'gt_bboxes' not in results:
            return
        fields = dict(bboxes=torch.from_numpy(
            np.asarray(results['gt_bboxes'], np.float32).reshape(-1, 4)))
        if 'gt_bboxes_labels' in results:
            fields['labels'] = torch.from_numpy(np.asarray(results['gt_bboxes_labels'], np.int64))
        ignored = torch.from_numpy(np.asarray(
            results.get('gt_ignore_flags', np.zeros(len(fields['bboxes']))), bool))
        sample.gt_instances = InstanceData(**{k: v[~ignored] for k, v in fields.items()})
        sample.ignored_instances = InstanceData(**{k: v[ignored] for k, v in fields.items()})


@TRANSFORMS.register_module()
class PackSegInputs(_PackInputs):
    """Pack a segmentation sample: ``inputs`` (3, H, W) uint8 BGR and a :class:`SegDataSample`.

    ``gt_sem_seg.data`` is (1, H, W) int64 (255 = ignore), present when ``gt_seg_map`` is.

    Args:
        meta_keys: results keys copied into the sample's metainfo (default ``SEG_META_KEYS``).
    """

    SAMPLE, META_KEYS = SegDataSample, SEG_META_KEYS

    def add_targets(self, sample: SegDataSample, results: dict) -> None:
        _add_sem_seg(sample, results)


def _add_sem_seg(sample: DetDataSample | SegDataSample, results: dict) -> None:
    """``gt_sem_seg``: ``gt_seg_map`` as (1, H, W) int64, where the results have one."""
    if 'gt_seg_map' in results:
        seg = torch.from_numpy(results['gt_seg_map'].astype(np.int64))[None]  # (1, H, W)
        sample.gt_sem_seg = PixelData(data=seg)


@TRANSFORMS.register_module()
class PackClsInputs(_PackInputs):
    """Pack a classification sample: ``inputs`` (3, H, W) uint8 BGR and a :class:`ClsDataSample`.

    ``gt_label`` (int64 (1,)) comes from ``results['gt_label']`` when present (mmpretrain's
    ``PackInputs``).

    Args:
        meta_keys: results keys copied into the sample's metainfo (default ``CLS_META_KEYS``).
    """

    SAMPLE, META_KEYS = ClsDataSample, CLS_META_KEYS

    def add_targets(self, sample: ClsDataSample, results: dict) -> None:
        if 'gt_label' in results:
            sample.gt_label = results['gt_label']

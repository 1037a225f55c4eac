"""Geometric transforms that keep image, boxes and label maps aligned (mmdet/mmseg semantics).

Boxes are ``gt_bboxes`` (N, 4) float32 xyxy in pixels; label maps are ``gt_seg_map`` and any other
key listed in ``seg_fields``, resized with nearest neighbour. ``scale_factor`` (w, h) accumulates
over resizes.
"""
from numbers import Number
from typing import Optional, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from vitdense.registry import TRANSFORMS

INTERPOLATIONS = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR,
                  'bicubic': cv2.INTER_CUBIC, 'area': cv2.INTER_AREA,
                  'lanczos': cv2.INTER_LANCZOS4}
# Arrays with one entry per box; a transform that drops boxes drops their entries in all of them.
# ``gt_instance_ids``: each box's value in ``gt_instance_map`` (LoadAnnotations).
PER_BOX_KEYS = ('gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags', 'gt_instance_ids')


def seg_keys(results: dict) -> list[str]:
    """Keys of the label maps in ``results``: ``gt_seg_map`` and those in ``seg_fields``."""
    keys = [k for k in results.get('seg_fields', []) if k in results]
    return keys + ['gt_seg_map'] if 'gt_seg_map' in results and 'gt_seg_map' not in keys else keys


def _interpolation(name: str) -> int:
    if name not in INTERPOLATIONS:
        raise ValueError(f'Unknown interpolation {name!r}; use one of {sorted(INTERPOLATIONS)}.')
    return INTERPOLATIONS[name]


def _as_scale(value: Sequence[Number], name: str) -> tuple[int, int]:
    if len(value) != 2 or not all(isinstance(v, Number) and v > 0 for v in value):
        raise ValueError(f'{name} must be a (width, height) pair of positive numbers, got {value}.')
    return int(value[0]), int(value[1])


def target_size(w: int, h: int, scale: tuple[int, int], keep_ratio: bool) -> tuple[int, int]:
    """Output (width, height) for an image of w x h and ``scale`` = (width, height).

    ``keep_ratio`` fits the long side within ``max(scale)`` and the short side within
    ``min(scale)`` (mmdet's rescale), rounding to the nearest pixel.
    """
    if not keep_ratio:
        return scale
    factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return max(int(w * factor + 0.5), 1), max(int(h * factor + 0.5), 1)


def clip_boxes(boxes: np.ndarray, img_shape: tuple[int, int]) -> np.ndarray:
    """Clip (N, 4) xyxy boxes to an image of ``img_shape`` (h, w), in place."""
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, img_shape[1])
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, img_shape[0])
    return boxes


def resize_results(results: dict, size: tuple[int, int], interpolation: str = 'bilinear',
                   clip_object_border: bool = True) -> None:
    """Resize image, boxes and label maps of ``results`` to ``size`` (width, height), in place."""
    h, w = results['img'].shape[:2]
    new_w, new_h = size
    w_scale, h_scale = new_w / w, new_h / h
    results['img'] = cv2.resize(results['img'], size, interpolation=_interpolation(interpolation))
    for key in seg_keys(results):
        results[key] = cv2.resize(results[key], size, interpolation=cv2.INTER_NEAREST)
    if 'gt_bboxes' in results:
        boxes = results['gt_bboxes'] * np.array([w_scale, h_scale, w_scale, h_scale], np.float32)
        results['gt_bboxes'] = clip_boxes(boxes, (new_h, new_w)) if clip_object_border else boxes
        box_w, box_h = results.get('gt_bboxes_scale_factor', (1.0, 1.0))
        results['gt_bboxes_scale_factor'] = (box_w * w_scale, box_h * h_scale)
    old_w_scale, old_h_scale = results.get('scale_factor', (1.0, 1.0))
    results['scale_factor'] = (old_w_scale * w_scale, old_h_scale * h_scale)
    results['img_shape'] = (new_h, new_w)


@TRANSFORMS.register_module()
class Resize(BaseTransform):
    """Resize to ``scale`` = (width, height), or fit within it with ``keep_ratio``; or, with
    ``scale_factor`` instead of ``scale``, by a factor of the current size (mmcv's ``Resize``).

    Args:
        scale: target (width, height); with ``keep_ratio`` the long image side fits within
            ``max(scale)`` and the short side within ``min(scale)``.
        scale_factor: instead of ``scale``: a factor, or a (width, height) pair of factors, of
            the image's size when the transform runs (mmseg's test-time augmentation scales).
        keep_ratio: keep the aspect ratio.
        clip_object_border: clip boxes to the resized image.
        interpolation: image interpolation (label maps always use nearest).
    """

    def __init__(self, scale: Optional[Sequence[int]] = None,
                 scale_factor: Optional[float | Sequence[float]] = None, keep_ratio: bool = False,
                 clip_object_border: bool = True, interpolation: str = 'bilinear') -> None:
        if (scale is None) == (scale_factor is None):
            raise ValueError(f'Resize takes either scale (width, height) or scale_factor, got '
                             f'scale={scale}, scale_factor={scale_factor}.')
        self.scale = None if scale is None else _as_scale(scale, 'Resize scale')
        self.scale_factor = None
        if scale_factor is not None:
            factors = (scale_factor, ) * 2 if isinstance(scale_factor, Number) else scale_factor
            if len(factors) != 2 or not all(isinstance(f, Number) and f > 0 for f in factors):
                raise ValueError(f'Resize scale_factor must be a positive number or a (width, '
                                 f'height) pair of them, got {scale_factor}.')
            self.scale_factor = (float(factors[0]), float(factors[1]))
        self.keep_ratio = keep_ratio
        self.clip_object_border = clip_object_border
        self.interpolation = interpolation
        _interpolation(interpolation)

    def sample_scale(self, w: int, h: int) -> tuple[int, int]:
        """The target (width, height) for an image of w x h."""
        if self.scale is not None:
            return self.scale
        fw, fh = self.scale_factor
        return max(int(w * fw + 0.5), 1), max(int(h * fh + 0.5), 1)

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        size = target_size(w, h, self.sample_scale(w, h), self.keep_ratio)
        resize_results(results, size, self.interpolation, self.clip_object_border)
        results['keep_ratio'] = self.keep_ratio
        return results

    def __repr__(self) -> str:
        what = (f'scale={self.scale}' if self.scale is not None
                else f'scale_factor={self.scale_factor}')
        return f'{type(self).__name__}({what}, keep_ratio={self.keep_ratio})'


@TRANSFORMS.register_module()
class RandomResize(Resize):
    """Resize to a random scale (mmcv semantics); with ``RandomCrop``, large-scale jitter.

    Args:
        scale: with ``ratio_range``, one (width, height) multiplied by a ratio drawn uniformly
            from it; without, two (width, height) pairs: the long edge is drawn from between their
            long edges and the short edge from between their short edges.
        ratio_range: (min, max) ratio, e.g. (0.1, 2.0) for large-scale jitter.
        keep_ratio, clip_object_border, interpolation: as :class:`Resize`.
    """

    def __init__(self, scale: Sequence, ratio_range: Optional[Sequence[float]] = None,
                 keep_ratio: bool = False, clip_object_border: bool = True,
                 interpolation: str = 'bilinear') -> None:
        common = dict(keep_ratio=keep_ratio, clip_object_border=clip_object_border,
                      interpolation=interpolation)
        if ratio_range is not None:
            super().__init__(scale, **common)
            if len(ratio_range) != 2 or not 0 < ratio_range[0] <= ratio_range[1]:
                raise ValueError(f'ratio_range must be (min, max) with 0 < min <= max, got '
                                 f'{ratio_range}.')
            self.scales = None
        else:
            if len(scale) != 2 or isinstance(scale[0], Number):
                raise ValueError('RandomResize without ratio_range takes scale as two (width, '
                                 f'height) pairs to sample between, got {scale}.')
            self.scales = [_as_scale(s, 'RandomResize scale') for s in scale]
            super().__init__(self.scales[0], **common)
        self.ratio_range = None if ratio_range is None else tuple(ratio_range)

    def sample_scale(self, w: int, h: int) -> tuple[int, int]:
        """A random target (width, height) (the image's w x h does not matter)."""
        if self.scales is None:
            ratio = np.random.uniform(*self.ratio_range)
            return max(int(self.scale[0] * ratio), 1), max(int(self.scale[1] * ratio), 1)
        longs = [max(s) for s in self.scales]
        shorts = [min(s) for s in self.scales]
        return (int(np.random.randint(min(longs), max(longs) + 1)),
                int(np.random.randint(min(shorts), max(shorts) + 1)))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scales or self.scale}, '
                f'ratio_range={self.ratio_range}, keep_ratio={self.keep_ratio})')


def flip_boxes(boxes, img_shape: tuple[int, int], direction: str):
    """Mirror (N, 4) xyxy boxes (a numpy array or a tensor, returned as a new one of the same
    kind) in an image of ``img_shape`` (h, w). Its own inverse: it also flips boxes back."""
    flipped = boxes.copy() if isinstance(boxes, np.ndarray) else boxes.clone()
    if direction == 'horizontal':
        flipped[:, 0], flipped[:, 2] = img_shape[1] - boxes[:, 2], img_shape[1] - boxes[:, 0]
    else:
        flipped[:, 1], flipped[:, 3] = img_shape[0] - boxes[:, 3], img_shape[0] - boxes[:, 1]
    return flipped


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Mirror image, boxes and label maps with probability ``prob``.

    Sets ``flip`` (bool) and ``flip_direction`` (``direction``, or None when not flipped).

    Args:
        prob: flip probability.
        direction: 'horizontal' or 'vertical'.
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal') -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'RandomFlip prob must be in [0, 1], got {prob}.')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"RandomFlip direction must be 'horizontal' or 'vertical', got "
                             f'{direction!r}.')
        self.prob = prob
        self.direction = direction

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        if not flip:
            return results
        code = 1 if self.direction == 'horizontal' else 0
        img_shape = results['img'].shape[:2]
        results['img'] = cv2.flip(results['img'], code)
        for key in seg_keys(results):
            results[key] = cv2.flip(results[key], code)
        if 'gt_bboxes' in results:
            results['gt_bboxes'] = flip_boxes(results['gt_bboxes'], img_shape, self.direction)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob}, direction={self.direction!r})'


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Crop a random window of ``crop_size`` (smaller images are kept whole along that side).

    Boxes are shifted and clipped; those left with no area are dropped with their labels and
    ignore flags. Note: ``crop_size`` is (h, w) as in mmseg; mmdet's RandomCrop takes (w, h).

    Args:
        crop_size: (height, width) of the window.
        allow_negative_crop: accept a window without any of the image's boxes. When False and
            the image has boxes, up to ``max_attempts`` windows are tried, then the transform
            returns None (the dataset then draws another image, as in mmdet).
        cat_max_ratio: retry (up to ``max_attempts``, then keep the last window) windows with a
            single label, or whose most frequent label covers this fraction or more of the
            non-ignored pixels of ``gt_seg_map`` (mmseg); 1 = off.
        ignore_index: label value not counted by ``cat_max_ratio``.
        max_attempts: windows tried before giving up.
    """

    def __init__(self, crop_size: Sequence[int], allow_negative_crop: bool = False,
                 cat_max_ratio: float = 1.0, ignore_index: int = 255,
                 max_attempts: int = 10) -> None:
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'crop_size must be (height, width) > 0, got {crop_size}.')
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.allow_negative_crop = allow_negative_crop
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index
        self.max_attempts = max_attempts

    def _window_ok(self, results: dict, window: tuple[int, int, int, int]) -> bool:
        x0, y0, x1, y1 = window
        if self.cat_max_ratio < 1 and 'gt_seg_map' in results:
            labels, counts = np.unique(results['gt_seg_map'][y0:y1, x0:x1], return_counts=True)
            counts = counts[labels != self.ignore_index]
            return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio
        return True

    def transform(self, results: dict) -> Optional[dict]:
        h, w = results['img'].shape[:2]
        crop_h, crop_w = min(self.crop_size[0], h), min(self.crop_size[1], w)
        boxes = results.get('gt_bboxes', np.zeros((0, 4), np.float32))
        need_box = not self.allow_negative_crop and len(boxes) > 0
        chosen = fallback = None
        for _ in range(self.max_attempts):
            y0 = np.random.randint(0, h - crop_h + 1)
            x0 = np.random.randint(0, w - crop_w + 1)
            shifted = clip_boxes(boxes - np.array([x0, y0, x0, y0], np.float32), (crop_h, crop_w))
            keep = (shifted[:, 2] > shifted[:, 0]) & (shifted[:, 3] > shifted[:, 1])
            if need_box and not keep.any():
                continue
            fallback = (x0, y0, shifted, keep)
            if self._window_ok(results, (x0, y0, x0 + crop_w, y0 + crop_h)):
                chosen = fallback
                break
        if fallback is None:
            return None  # no window with a box: the dataset draws another image (as mmdet)
        x0, y0, shifted, keep = chosen or fallback  # else the last window with a box (as mmseg)
        results['img'] = results['img'][y0:y0 + crop_h, x0:x0 + crop_w].copy()
        for key in seg_keys(results):
            results[key] = results[key][y0:y0 + crop_h, x0:x0 + crop_w].copy()
        if 'gt_bboxes' in results:
            results['gt_bboxes'] = shifted[keep]
            for key in PER_BOX_KEYS[1:]:
                if key in results:
                    results[key] = results[key][keep]
        results['img_shape'] = (crop_h, crop_w)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_size={self.crop_size}, '
                f'allow_negative_crop={self.allow_negative_crop}, '
                f'cat_max_ratio={self.cat_max_ratio})')

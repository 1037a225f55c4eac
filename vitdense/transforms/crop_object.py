"""Cut a square window around one object's box (classification on object crops)."""
from numbers import Number
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from vitdense.registry import TRANSFORMS


def square_window(bbox: Sequence[float], margin: float) -> tuple[int, int, int]:
    """The square around ``bbox`` [x1, y1, x2, y2]: centred on it, side = longer side * (1 + 2m).

    Returns:
        (x0, y0, side) in integer pixels: the side rounded (at least 1), the corner placed so
        that the window's centre is the nearest one to the box centre.
    """
    x1, y1, x2, y2 = (float(v) for v in bbox)
    side = max(int(round(max(x2 - x1, y2 - y1) * (1 + 2 * margin))), 1)
    x0 = int(np.floor((x1 + x2) / 2 - side / 2 + 0.5))
    y0 = int(np.floor((y1 + y2) / 2 - side / 2 + 0.5))
    return x0, y0, side


def crop_padded(img: np.ndarray, x0: int, y0: int, side: int,
                pad_val: int | Sequence[int]) -> np.ndarray:
    """The ``side`` x ``side`` window of ``img`` (H, W[, C]) at (x0, y0); outside is ``pad_val``.

    Returns:
        (side, side[, C]) array of ``img``'s dtype.
    """
    h, w = img.shape[:2]
    out = np.empty((side, side) + img.shape[2:], img.dtype)  # (side, side[, C])
    out[...] = pad_val
    ix0, iy0 = max(x0, 0), max(y0, 0)  # the window's part inside the image
    ix1, iy1 = min(x0 + side, w), min(y0 + side, h)
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = img[iy0:iy1, ix0:ix1]
    return out


@TRANSFORMS.register_module()
class CropObject(BaseTransform):
    """Replace the image by a square window centred on ``results['bbox']``.

    The side is the box's longer side times ``1 + 2 * margin``, with ``margin`` drawn uniformly
    from ``margin_range`` (fixed when both ends are equal: use that at test time). The part of
    the window outside the image is filled with ``pad_val``. Sets ``img``, ``img_shape`` and
    ``crop_bbox`` [x0, y0, x1, y1] (the window in the original image's pixels, may exceed it).

    Args:
        margin_range: (min, max) context on each side, as a fraction of the longer box side.
        pad_val: fill value outside the image: one for all channels or one per channel
            (default 114, mmdet's grey).
    """

    def __init__(self, margin_range: Sequence[float] = (0.1, 0.25),
                 pad_val: int | Sequence[int] = 114) -> None:
        if len(margin_range) != 2 or not 0 <= margin_range[0] <= margin_range[1]:
            raise ValueError(f'CropObject margin_range must be (min, max) with 0 <= min <= max, '
                             f'got {margin_range}.')
        if not isinstance(pad_val, Number) and not all(isinstance(v, Number) for v in pad_val):
            raise ValueError(f'CropObject pad_val must be a number or one number per channel, '
                             f'got {pad_val}.')
        self.margin_range = (float(margin_range[0]), float(margin_range[1]))
        self.pad_val = pad_val if isinstance(pad_val, Number) else tuple(pad_val)

    def transform(self, results: dict) -> dict:
        if 'bbox' not in results:
            raise KeyError(f"CropObject needs results['bbox'] ([x1, y1, x2, y2] of one object); "
                           f'the results have {sorted(results)}. Use it with '
                           'ObjectCropDataset, whose entries have one.')
        low, high = self.margin_range
        margin = low if low == high else float(np.random.uniform(low, high))
        x0, y0, side = square_window(results['bbox'], margin)
        img = results['img']
        if not isinstance(self.pad_val, Number) and img.ndim == 3 and \
                len(self.pad_val) != img.shape[2]:
            raise ValueError(f'CropObject pad_val {self.pad_val} has {len(self.pad_val)} values '
                             f"but the image '{results.get('img_path')}' has {img.shape[2]} "
                             'channels.')
        results['img'] = crop_padded(img, x0, y0, side, self.pad_val)
        results['img_shape'] = (side, side)
        results['crop_bbox'] = np.array([x0, y0, x0 + side, y0 + side], np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(margin_range={self.margin_range}, '
                f'pad_val={self.pad_val})')

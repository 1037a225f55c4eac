"""Boxes from the network's input frame to the original image: clip and undo the resize.

Every detection head ends its ``predict`` with these (mmdet's ``rescale=True`` convention):
boxes are clipped to ``img_shape`` (the resized, unpadded image), divided by ``scale_factor``
(w, h) and clipped to ``ori_shape``.
"""
from typing import Sequence

from torch import Tensor


def clip_boxes_(boxes: Tensor, shape: Sequence[int]) -> Tensor:
    """Clip (N, 4) xyxy boxes in place to an (H, W[, ...]) image; returns ``boxes``."""
    height, width = shape[0], shape[1]
    boxes[:, 0::2].clamp_(min=0, max=width)
    boxes[:, 1::2].clamp_(min=0, max=height)
    return boxes


def rescale_boxes(boxes: Tensor, meta: dict, owner: str = 'predict') -> Tensor:
    """(N, 4) xyxy boxes in the input frame -> the original image's frame, clipped to it.

    Args:
        boxes: (N, 4) xyxy in input pixels.
        meta: a data sample's metainfo with ``scale_factor`` (w, h) and ``ori_shape`` (H, W).
        owner: who asks, named in the error (e.g. ``'FCOSHead.predict'``).

    Returns:
        A new (N, 4) tensor.
    """
    for key in ('scale_factor', 'ori_shape'):
        if key not in meta:
            raise KeyError(f'{owner}(rescale=True) needs {key!r} in the data sample metainfo '
                           f'(has {sorted(meta)}); pack it in the pipeline or call with '
                           'rescale=False')
    scale_w, scale_h = meta['scale_factor']
    boxes = boxes / boxes.new_tensor([scale_w, scale_h, scale_w, scale_h])
    return clip_boxes_(boxes, meta['ori_shape'])

"""Sliding-window inference: the windows (mmseg's layout) and the batched average of logits."""
import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

Window = tuple[int, int, int, int]  # (y1, y2, x1, x2), end exclusive


def slide_windows(size: tuple[int, int], crop: tuple[int, int],
                  stride: tuple[int, int]) -> list[Window]:
    """The windows of mmseg's ``slide_inference`` over an image of ``size`` (h, w), row-major.

    Window origins step by ``stride``; the last row and column are moved back so that they end
    at the image border, and a crop larger than the image is clamped to it. So every window has
    the same size, ``min(crop, size)`` per side, and together they cover the image.

    Raises:
        ValueError: a stride is not positive or larger than the crop (pixels left uncovered).
    """
    (h, w), (ch, cw), (sh, sw) = size, crop, stride
    if min(sh, sw) <= 0 or sh > ch or sw > cw:
        raise ValueError(f'sliding-window stride {tuple(stride)} must be positive and at most '
                         f'the crop size {tuple(crop)} (h, w), or pixels between windows would '
                         'get no prediction.')
    rows = max(math.ceil((h - ch) / sh), 0) + 1
    cols = max(math.ceil((w - cw) / sw), 0) + 1
    windows = []
    for r in range(rows):
        y1 = min(r * sh, max(h - ch, 0))
        for c in range(cols):
            x1 = min(c * sw, max(w - cw, 0))
            windows.append((y1, min(y1 + ch, h), x1, min(x1 + cw, w)))
    return windows


def resize_logits(logits: Tensor, size: tuple[int, int], align_corners: bool = False) -> Tensor:
    """(B, K, h, w) -> (B, K, *size) in float32, bilinear; returned as is at the right size."""
    logits = logits.float()
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=size, mode='bilinear', align_corners=align_corners)


def slide_logits(predict: Callable[[Tensor], Tensor], inputs: Tensor, num_classes: int,
                 crop: tuple[int, int], stride: tuple[int, int], windows_per_batch: int = 8,
                 align_corners: bool = False) -> Tensor:
    """Logits of ``inputs`` averaged over the overlapping windows of :func:`slide_windows`.

    The crops of ``windows_per_batch`` windows of all B images go through ``predict`` in one
    batch (windows_per_batch x B crops, window-major); each crop's logits are resized to the
    crop and added to the image's sum, and the sum is divided by the number of windows that
    cover each pixel. ``windows_per_batch=1`` runs the windows one at a time, as mmseg does.
    Only one window's logits at full crop size are alive at a time, so a larger batch costs
    the network's activations, not K x crop-sized maps.

    Args:
        predict: crops (N, 3, ch, cw) -> logits (N, K, h, w) at any resolution.
        inputs: (B, 3, H, W) images.
        num_classes: K.
        crop, stride: (h, w) of the windows and of their step.
        windows_per_batch: windows per forward pass.
        align_corners: of the bilinear resize of a crop's logits.

    Returns:
        (B, K, H, W) float32 logits.
    """
    if windows_per_batch < 1:
        raise ValueError(f'windows_per_batch must be >= 1, got {windows_per_batch}')
    b, _, h, w = inputs.shape
    windows = slide_windows((h, w), crop, stride)
    logits = inputs.new_zeros(b, num_classes, h, w, dtype=torch.float32)
    count = inputs.new_zeros(1, 1, h, w, dtype=torch.float32)
    for start in range(0, len(windows), windows_per_batch):
        chunk = windows[start:start + windows_per_batch]
        crops = torch.cat([inputs[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in chunk])  # (n*B,3,.,.)
        out = predict(crops)  # (n * B, K, h', w'), window-major
        for j, (y1, y2, x1, x2) in enumerate(chunk):
            one = out[j * b:(j + 1) * b]  # (B, K, h', w'): this window of every image
            logits[:, :, y1:y2, x1:x2] += resize_logits(one, (y2 - y1, x2 - x1), align_corners)
            count[:, :, y1:y2, x1:x2] += 1
    return logits.div_(count)

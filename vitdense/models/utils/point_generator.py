"""Grid points of multi-level feature maps, in input-image pixels."""
from typing import Sequence

import torch
from torch import Tensor


def level_points(featmap_sizes: Sequence[tuple[int, int]], strides: Sequence[int],
                 offset: float = 0.5, dtype: torch.dtype = torch.float32,
                 device: torch.device | str = 'cpu') -> list[Tensor]:
    """Image-space location of every feature-map cell, one tensor per level.

    Cell (i, j) of a stride-s map sits at ``((j + offset) * s, (i + offset) * s)``; ``offset=0.5``
    is the cell centre (FCOS's ``stride // 2`` for even strides, mmdet's MlvlPointGenerator
    default); ``offset=0`` is the cell's top-left corner.

    Args:
        featmap_sizes: (H, W) of each level.
        strides: stride of each level in pixels.
        offset: position inside the cell, in units of the stride.
        dtype: dtype of the points.
        device: device of the points.

    Returns:
        Per level, (H * W, 2) xy points in row-major order (matching ``feat.flatten(2)``).
    """
    if len(featmap_sizes) != len(strides):
        raise ValueError(f'level_points: {len(featmap_sizes)} feature-map sizes but '
                         f'{len(strides)} strides; pass one stride per level')
    points = []
    for (height, width), stride in zip(featmap_sizes, strides):
        xs = (torch.arange(width, dtype=dtype, device=device) + offset) * stride
        ys = (torch.arange(height, dtype=dtype, device=device) + offset) * stride
        yy, xx = torch.meshgrid(ys, xs, indexing='ij')  # (H, W) each
        points.append(torch.stack((xx.reshape(-1), yy.reshape(-1)), dim=-1))  # (H * W, 2)
    return points

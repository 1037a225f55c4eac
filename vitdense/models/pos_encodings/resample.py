"""Resampling of absolute position tables between patch grids, as pure functions."""
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from vitdense.models.utils.tracing import is_tracing


@dataclass(frozen=True)
class ResampleMode:
    """How a checkpoint's source codebase resizes its position table (REFERENCE.md).

    Attributes:
        interpolation: 'bicubic' or 'bilinear'.
        antialias: timm's default (True) vs DeiT/MAE/detectron2/HF ViT (False).
        offset: DINOv2's original trick, ``scale_factor = (new + offset) / old``; None for a
            size-based call.
    """

    interpolation: str = 'bicubic'
    antialias: bool = False
    offset: float | None = None

    def __post_init__(self):
        if self.interpolation not in ('bicubic', 'bilinear'):
            raise ValueError(f"interpolation must be 'bicubic' or 'bilinear', got "
                             f'{self.interpolation!r}')


def resample_grid_table(table: torch.Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int],
                        mode: ResampleMode = ResampleMode()) -> torch.Tensor:
    """Resize a (1, Hs * Ws, C) grid table to (1, Hd * Wd, C); the identity when sizes match.

    Computed in float32 and cast back to the table's dtype. While a graph is traced the resize
    is always recorded (at equal sizes it is the identity): the traced size may be symbolic, and
    a shortcut taken at the export size would fix the graph to it.
    """
    if not is_tracing() and tuple(src_hw) == tuple(dst_hw):
        return table
    c = table.shape[-1]
    grid = table.float().reshape(1, src_hw[0], src_hw[1], c).permute(0, 3, 1, 2)  # (1, C, Hs, Ws)
    if mode.offset is None:
        grid = F.interpolate(grid, size=dst_hw, mode=mode.interpolation, align_corners=False,
                             antialias=mode.antialias)
    else:
        scale = ((dst_hw[0] + mode.offset) / src_hw[0], (dst_hw[1] + mode.offset) / src_hw[1])
        grid = F.interpolate(grid, scale_factor=scale, mode=mode.interpolation,
                             align_corners=False, antialias=mode.antialias)
        if tuple(grid.shape[-2:]) != tuple(dst_hw):
            raise RuntimeError(f'offset resampling gave {tuple(grid.shape[-2:])}, '
                               f'expected {tuple(dst_hw)}')
    grid = grid.permute(0, 2, 3, 1).reshape(1, dst_hw[0] * dst_hw[1], c)  # (1, Hd * Wd, C)
    return grid.to(table.dtype)

"""Absolute position embedding for windowed attention: a tiled window table plus a global one."""
import math

import torch
from torch import nn

from vitdense.registry import POS_ENCODINGS

from .base import Grid, ResampleCache, TokenPosEncoding
from .resample import ResampleMode, resample_grid_table


@POS_ENCODINGS.register_module()
class WindowTiledAbsolutePE(TokenPosEncoding):
    """A window-sized table tiled across the windows, plus an interpolated global table.

    Bolya et al. 2023, "Window Attention is Bugged: How not to Interpolate Position
    Embeddings", arXiv 2311.05613 ("absolute win"). Interpolating one big table breaks the
    alignment between the embedding and the windows; here the window table is never resized: it
    repeats with the window partition of the ViT's windowed blocks (windows start at the
    top-left corner, the grid is padded at the bottom and right), so every window sees the same
    embedding at any input size. Only the coarse global table is interpolated.

    Args:
        dim: token width.
        ref_grid: (H, W) patch grid of the reference size.
        num_prefix_tokens: prefix tokens of the ViT; they get nothing added.
        window_size: window side of the ViT's windowed blocks: given by the ViT when it has
            windowed blocks (a different value in the config is an error); set it only for a
            ViT without windows.
        global_grid: size of the global table; None: one entry per window at the reference
            size, ``ceil(ref_grid / window_size)`` (Hiera's 7 x 7 for 56 x 56 tokens in 8 x 8
            windows).
        interpolation, antialias, offset: how the global table is resampled (``ResampleMode``).
        init_std: std of the truncated-normal initialisation of both tables.
    """

    TEST_CONFIGS = (dict(window_size=4),)

    def __init__(self, dim: int, ref_grid: Grid, num_prefix_tokens: int, window_size: int = 0,
                 global_grid: tuple[int, int] | None = None, interpolation: str = 'bicubic',
                 antialias: bool = False, offset: float | None = None, init_std: float = 0.02):
        super().__init__()
        if window_size < 1:
            raise ValueError(f'WindowTiledAbsolutePE needs window_size >= 1: the ViT passes its '
                             f'own when it has windowed blocks (window_size > 0); without them, '
                             f'set pos_embed.window_size. Got {window_size}.')
        self.ref_grid, self.window_size = tuple(ref_grid), window_size
        if global_grid is None:
            global_grid = tuple(math.ceil(s / window_size) for s in self.ref_grid)
        self.global_grid = tuple(global_grid)
        self.mode = ResampleMode(interpolation, antialias, offset)
        self.window_table = nn.Parameter(torch.zeros(1, window_size * window_size, dim))
        self.global_table = nn.Parameter(
            torch.zeros(1, self.global_grid[0] * self.global_grid[1], dim))
        for table in (self.window_table, self.global_table):
            nn.init.trunc_normal_(table, std=init_std)
        self._cache = ResampleCache()

    def _compute(self, hw: Grid) -> torch.Tensor:
        h, w = hw
        win = self.window_size
        ys = torch.arange(h, device=self.window_table.device) % win  # (H,)
        xs = torch.arange(w, device=self.window_table.device) % win  # (W,)
        index = (ys[:, None] * win + xs[None, :]).flatten()  # (H * W,) position inside its window
        tiled = self.window_table[:, index]  # (1, H * W, C)
        return tiled + resample_grid_table(self.global_table, self.global_grid, hw, self.mode)

    def grid_table(self, hw: Grid) -> torch.Tensor:
        """The embedding of grid ``hw``: (1, H * W, C); cached per size in eval mode."""
        key = (tuple(hw), str(self.window_table.device))
        return self._cache.get(self, key, lambda: self._compute(tuple(hw)))

    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        grid = self.grid_table(hw).to(x.dtype)  # (1, H * W, C)
        return torch.cat([x[:, :num_prefix], x[:, num_prefix:] + grid], dim=1)

    def extra_repr(self) -> str:
        return (f'ref_grid={self.ref_grid}, window_size={self.window_size}, '
                f'global_grid={self.global_grid}, mode={self.mode}')

"""Learned absolute position embedding (ViT / DeiT)."""
import torch
from torch import nn

from vitdense.registry import POS_ENCODINGS

from .base import Grid, ResampleCache, TokenPosEncoding
from .resample import ResampleMode, resample_grid_table


@POS_ENCODINGS.register_module()
class LearnedAbsolutePE(TokenPosEncoding):
    """A learned table added to the tokens, resampled on the fly to any grid.

    Dosovitskiy et al. 2020, "An Image is Worth 16x16 Words", arXiv 2010.11929; Touvron et al.
    2021, "Training data-efficient image transformers", arXiv 2012.12877.

    Args:
        dim: token width.
        ref_grid: (H, W) patch grid the table is defined at.
        num_prefix_tokens: prefix tokens of the ViT (cls, registers).
        prefix_entries: how many prefix tokens have a table entry (1 for ViT/DeiT with a cls
            entry, 0 for DINOv2's registers or a ViT without cls). Prefix tokens without an entry
            get nothing added.
        interpolation, antialias, offset: the resampling convention (see ``ResampleMode``);
            checkpoint metadata overrides them when weights are converted.
        init_std: std of the truncated-normal initialisation.
    """

    def __init__(self, dim: int, ref_grid: Grid, num_prefix_tokens: int, prefix_entries: int = 0,
                 interpolation: str = 'bicubic', antialias: bool = False,
                 offset: float | None = None, init_std: float = 0.02):
        super().__init__()
        if prefix_entries > num_prefix_tokens:
            raise ValueError(f'prefix_entries={prefix_entries} exceeds the ViT\'s '
                             f'num_prefix_tokens={num_prefix_tokens}')
        self.ref_grid = tuple(ref_grid)
        self.prefix_entries = prefix_entries
        self.mode = ResampleMode(interpolation, antialias, offset)
        n = prefix_entries + self.ref_grid[0] * self.ref_grid[1]
        self.table = nn.Parameter(torch.zeros(1, n, dim))
        nn.init.trunc_normal_(self.table, std=init_std)
        self._cache = ResampleCache()

    def grid_table(self, hw: Grid) -> torch.Tensor:
        """The patch part of the table at grid ``hw``: (1, H * W, C)."""
        patch = self.table[:, self.prefix_entries:]
        return self._cache.get(self, (tuple(hw),),
                               lambda: resample_grid_table(patch, self.ref_grid, hw, self.mode))

    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        grid = self.grid_table(hw).to(x.dtype)
        if self.prefix_entries:
            prefix = self.table[:, :self.prefix_entries].to(x.dtype)
            pad = x.new_zeros(1, num_prefix - self.prefix_entries, x.shape[-1])
            return x + torch.cat([prefix, pad, grid], dim=1)
        return torch.cat([x[:, :num_prefix], x[:, num_prefix:] + grid], dim=1)

    def extra_repr(self) -> str:
        return f'ref_grid={self.ref_grid}, prefix_entries={self.prefix_entries}, mode={self.mode}'

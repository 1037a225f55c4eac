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
        interpolation, antialias, offset: the resampling convention (see ``ResampleMode``;
            default bicubic, no antialias, no offset). When none of them is given, a
            pretrained checkpoint's convention replaces the default as its weights load; a
            value given here wins over the checkpoint's (logged either way).
        init_std: std of the truncated-normal initialisation.
    """

    def __init__(self, dim: int, ref_grid: Grid, num_prefix_tokens: int, prefix_entries: int = 0,
                 interpolation: str | None = None, antialias: bool | None = None,
                 offset: float | None = None, init_std: float = 0.02):
        super().__init__()
        if prefix_entries > num_prefix_tokens:
            raise ValueError(f'prefix_entries={prefix_entries} exceeds the ViT\'s '
                             f'num_prefix_tokens={num_prefix_tokens}')
        self.ref_grid = tuple(ref_grid)
        self.prefix_entries = prefix_entries
        self.mode_from_config = any(v is not None for v in (interpolation, antialias, offset))
        self.mode = ResampleMode(interpolation or 'bicubic', bool(antialias), offset)
        n = prefix_entries + self.ref_grid[0] * self.ref_grid[1]
        self.table = nn.Parameter(torch.zeros(1, n, dim))
        nn.init.trunc_normal_(self.table, std=init_std)
        self._cache = ResampleCache()

    def grid_table(self, hw: Grid) -> torch.Tensor:
        """The patch part of the table at grid ``hw``: (1, H * W, C)."""
        patch = self.table[:, self.prefix_entries:]
        return self._cache.get(self, (tuple(hw),),
                               lambda: resample_grid_table(patch, self.ref_grid, hw, self.mode))

    def adapt_state_dict(self, state_dict: dict, prefix: str, meta: dict) -> list[str]:
        """Resample the checkpoint's grid once to ``ref_grid``, and take its convention.

        The table's prefix rows were fitted by the ViT already. The convention is the
        checkpoint's (``meta['pos_embed_resample']``) unless the config gave one.
        """
        key = prefix + 'table'
        if key not in state_dict or not meta.get('ref_grid'):
            return []
        notes, name = [], prefix.rstrip('.')
        source = ResampleMode(**meta['pos_embed_resample']) if meta.get(
            'pos_embed_resample') else self.mode
        if source != self.mode and self.mode_from_config:
            notes.append(f"{name}: the config's resampling {self.mode} is kept; "
                         f"{meta['source']} resamples with {source}")
        elif source != self.mode:
            notes.append(f"{name} resampling set to {meta['source']}'s {source} (was "
                         f'{self.mode}); give interpolation/antialias/offset in the config to '
                         f'choose another')
            self.mode = source
        src_grid = tuple(meta['ref_grid'])
        if src_grid != self.ref_grid:
            table, rows = state_dict[key], self.prefix_entries
            grid = resample_grid_table(table[:, rows:], src_grid, self.ref_grid, self.mode)
            state_dict[key] = torch.cat([table[:, :rows], grid], dim=1)
            notes.append(f"{name} resampled once from {src_grid} to the backbone's ref_grid "
                         f'{self.ref_grid} ({self.mode}); to resample from {src_grid} at every '
                         f"input size exactly as {meta['source']} does, build the PE with "
                         f'ref_grid={src_grid}')
        return notes

    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        grid = self.grid_table(hw).to(x.dtype)
        if self.prefix_entries:
            prefix = self.table[:, :self.prefix_entries].to(x.dtype)
            pad = x.new_zeros(1, num_prefix - self.prefix_entries, x.shape[-1])
            return x + torch.cat([prefix, pad, grid], dim=1)
        return torch.cat([x[:, :num_prefix], x[:, num_prefix:] + grid], dim=1)

    def extra_repr(self) -> str:
        return f'ref_grid={self.ref_grid}, prefix_entries={self.prefix_entries}, mode={self.mode}'

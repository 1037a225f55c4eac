"""Swin-style relative position bias: one learned table of logit biases per head."""

import torch
from torch import nn
from torch.nn import functional as F

from vitdense.registry import POS_ENCODINGS

from .base import AttentionPosEncoding, Grid, ResampleCache
from .grid import device_key, grid_offsets, tensor_cache
from .table_bias import TableBias


@tensor_cache()
def relative_position_index(hw: Grid, device: torch.device) -> torch.Tensor:
    """Swin's index ``(dy + h - 1) * (2w - 1) + (dx + w - 1)`` for all token pairs: (N, N).

    Cached per (size, device), bounded in bytes (``grid.tensor_cache``).
    """
    h, w = hw
    offsets = grid_offsets(h, w, device)  # (N, N, 2)
    return (offsets[..., 0] + h - 1) * (2 * w - 1) + (offsets[..., 1] + w - 1)


def resize_bias_table(table: torch.Tensor, src_hw: Grid, dst_hw: Grid,
                      interpolation: str = 'bicubic') -> torch.Tensor:
    """Resize a ((2H - 1) * (2W - 1), heads) table to ((2h - 1) * (2w - 1), heads).

    The identity when the sizes match; computed in float32 (as the Swin repository's
    ``load_pretrained``, with ``align_corners=False``).
    """
    if tuple(src_hw) == tuple(dst_hw):
        return table
    heads = table.shape[1]
    src = (2 * src_hw[0] - 1, 2 * src_hw[1] - 1)
    dst = (2 * dst_hw[0] - 1, 2 * dst_hw[1] - 1)
    grid = table.float().t().reshape(1, heads, *src)  # (1, heads, 2H - 1, 2W - 1)
    grid = F.interpolate(grid, size=dst, mode=interpolation, align_corners=False)
    return grid.reshape(heads, dst[0] * dst[1]).t().to(table.dtype)  # ((2h-1)(2w-1), heads)


@tensor_cache()
def relative_bucket_ids(hw: Grid, num_prefix: int, device: torch.device) -> torch.Tensor:
    """Table entry of every token pair, prefix tokens included: (P + N, P + N).

    Grid pairs read Swin's index (``(2h - 1)(2w - 1)`` entries, E of them); a prefix query and
    a grid key read entry E, a grid query and a prefix key E + 1, two prefix tokens E + 2
    (BEiT's order; a table without prefix entries has zeros there).
    """
    index = relative_position_index(tuple(hw), device)
    if not num_prefix:
        return index
    e, p = (2 * hw[0] - 1) * (2 * hw[1] - 1), num_prefix
    ids = F.pad(index, (p, 0, p, 0), value=e)  # prefix query -> grid key: E
    ids[p:, :p] = e + 1  # grid query -> prefix key
    ids[:p, :p] = e + 2  # prefix -> prefix
    return ids


@POS_ENCODINGS.register_module()
class RelPosBiasPE(AttentionPosEncoding):
    """A learned logit bias per head for every 2D offset, for a window or the global grid.

    Liu et al. 2021, "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
    arXiv 2103.14030 (``WindowAttention``); the prefix entries follow Bao et al. 2021, "BEiT:
    BERT Pre-Training of Image Transformers", arXiv 2106.08254.

    The table holds (2H - 1)(2W - 1) offsets of the reference grid (the window for windowed
    blocks); for another grid it is resized (bicubic by default) to (2h - 1)(2w - 1). The bias
    is returned as a :class:`TableBias` (the table and the bucket index): the attention gathers
    it per query chunk and scatters its gradient back, so no (heads, N, N) bias is made, kept
    for backward or cached; in eval mode only the resized table is cached per grid size.
    Prefix tokens (cls, registers) get a zero bias by default. With ``prefix_bias=True`` the
    table has BEiT's three extra rows at its end, shared by all prefix tokens: prefix -> patch,
    patch -> prefix, prefix -> prefix (windowed blocks have no prefix tokens and never use them).

    Args:
        num_heads, head_dim: of the attention.
        ref_grid: (H, W) the table is defined at.
        prefix_bias: add BEiT's three learned prefix entries.
        interpolation: 'bicubic' (Swin) or 'bilinear' (HF BEiT) for resizing the table.
        init_std: std of the truncated-normal initialisation.
    """

    TEST_CONFIGS = ({}, dict(prefix_bias=True))

    def __init__(self, num_heads: int, head_dim: int, ref_grid: Grid, prefix_bias: bool = False,
                 interpolation: str = 'bicubic', init_std: float = 0.02):
        super().__init__()
        if interpolation not in ('bicubic', 'bilinear'):
            raise ValueError(f"RelPosBiasPE: interpolation must be 'bicubic' or 'bilinear', got "
                             f'{interpolation!r}')
        self.num_heads, self.ref_grid = num_heads, tuple(ref_grid)
        self.prefix_bias, self.interpolation = prefix_bias, interpolation
        self.num_offsets = (2 * self.ref_grid[0] - 1) * (2 * self.ref_grid[1] - 1)
        rows = self.num_offsets + (3 if prefix_bias else 0)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(rows, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=init_std)
        self._cache = ResampleCache()

    def bias(self, hw: Grid, num_prefix: int, device: torch.device) -> torch.Tensor:
        """The logit bias of grid ``hw`` as one tensor: (1, heads, P + h * w, P + h * w)."""
        hw = tuple(hw)
        return TableBias([self.bucket_table(hw)],
                         [relative_bucket_ids(hw, num_prefix, device)]).dense()

    def bucket_table(self, hw: Grid) -> torch.Tensor:
        """The table for grid ``hw``, entries as :func:`relative_bucket_ids` reads them:
        (heads, (2h - 1)(2w - 1) + 3); cached per size in eval mode."""
        def compute() -> torch.Tensor:
            table = self.relative_position_bias_table
            grid = resize_bias_table(table[:self.num_offsets], self.ref_grid, hw,
                                     self.interpolation)  # ((2h - 1)(2w - 1), heads)
            prefix = table[self.num_offsets:] if self.prefix_bias else table.new_zeros(3, 1)
            return torch.cat([grid, prefix.expand(3, grid.shape[1])]).t()  # (heads, E + 3)
        return self._cache.get(self, (tuple(hw), device_key(self.relative_position_bias_table)),
                               compute)

    def forward(self, q: torch.Tensor, k: torch.Tensor, hw: Grid,
                num_prefix: int) -> tuple[torch.Tensor, torch.Tensor, TableBias]:
        hw = tuple(hw)
        ids = relative_bucket_ids(hw, num_prefix, q.device)
        return q, k, TableBias([self.bucket_table(hw)], [ids])

    def extra_repr(self) -> str:
        return (f'num_heads={self.num_heads}, ref_grid={self.ref_grid}, '
                f'prefix_bias={self.prefix_bias}, interpolation={self.interpolation!r}')

"""Swin-style relative position bias: one learned table of logit biases per head."""

import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.utils.tracing import is_tracing
from vitdense.registry import POS_ENCODINGS

from .base import AttentionPosEncoding, Grid, ResampleCache
from .grid import device_key
from .offset_bias import OffsetBias


def resize_bias_table(table: torch.Tensor, src_hw: Grid, dst_hw: Grid,
                      interpolation: str = 'bicubic') -> torch.Tensor:
    """Resize a ((2H - 1) * (2W - 1), heads) table to ((2h - 1) * (2w - 1), heads).

    The identity when the sizes match (recorded as a resize while a graph is traced, so that a
    symbolic size is not fixed at the export size); computed in float32 (as the Swin
    repository's ``load_pretrained``, with ``align_corners=False``).
    """
    if not is_tracing() and tuple(src_hw) == tuple(dst_hw):
        return table
    heads = table.shape[1]
    src = (2 * src_hw[0] - 1, 2 * src_hw[1] - 1)
    dst = (2 * dst_hw[0] - 1, 2 * dst_hw[1] - 1)
    grid = table.float().t().reshape(1, heads, *src)  # (1, heads, 2H - 1, 2W - 1)
    grid = F.interpolate(grid, size=dst, mode=interpolation, align_corners=False)
    return grid.reshape(heads, dst[0] * dst[1]).t().to(table.dtype)  # ((2h-1)(2w-1), heads)


@POS_ENCODINGS.register_module()
class RelPosBiasPE(AttentionPosEncoding):
    """A learned logit bias per head for every 2D offset, for a window or the global grid.

    Liu et al. 2021, "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
    arXiv 2103.14030 (``WindowAttention``); the prefix entries follow Bao et al. 2021, "BEiT:
    BERT Pre-Training of Image Transformers", arXiv 2106.08254.

    The table holds (2H - 1)(2W - 1) offsets of the reference grid (the window for windowed
    blocks); for another grid it is resized (bicubic by default) to (2h - 1)(2w - 1). The bias
    is returned as an :class:`OffsetBias` (a value per 2D offset): the attention adds it block by
    block per query chunk and sends its gradient back the same way, so no (heads, N, N) bias or
    index is made, kept for backward or cached; in eval mode only the resized table is cached.
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

    def offset_table(self, hw: Grid) -> torch.Tensor:
        """The table resized to grid ``hw``, as (heads, 2h - 1, 2w - 1); cached per size in
        eval mode."""
        def compute() -> torch.Tensor:
            table = resize_bias_table(self.relative_position_bias_table[:self.num_offsets],
                                      self.ref_grid, hw, self.interpolation)
            return table.t().reshape(-1, 2 * hw[0] - 1, 2 * hw[1] - 1)
        return self._cache.get(self, (tuple(hw), device_key(self.relative_position_bias_table)),
                               compute)

    def offset_bias(self, hw: Grid, num_prefix: int) -> OffsetBias:
        hw = tuple(hw)
        values = None
        if self.prefix_bias and num_prefix:
            values = self.relative_position_bias_table[self.num_offsets:].t()  # (heads, 3)
        return OffsetBias(self.offset_table(hw), hw, num_prefix, values)

    def bias(self, hw: Grid, num_prefix: int, device: torch.device) -> torch.Tensor:
        """The logit bias of grid ``hw`` as one tensor: (1, heads, P + h * w, P + h * w)."""
        return self.offset_bias(hw, num_prefix).dense()

    def forward(self, q: torch.Tensor, k: torch.Tensor, hw: Grid,
                num_prefix: int) -> tuple[torch.Tensor, torch.Tensor, OffsetBias]:
        return q, k, self.offset_bias(hw, num_prefix)

    def extra_repr(self) -> str:
        return (f'num_heads={self.num_heads}, ref_grid={self.ref_grid}, '
                f'prefix_bias={self.prefix_bias}, interpolation={self.interpolation!r}')

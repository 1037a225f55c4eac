"""Conditional position encoding: CPVT's position encoding generator (PEG)."""
import torch
from torch import nn

from vitdense.models.utils.shifted_conv import token_map_conv
from vitdense.models.utils.tokens import tokens_to_map
from vitdense.registry import POS_ENCODINGS

from .base import ConditionalPosEncoding, Grid


@POS_ENCODINGS.register_module()
class ConditionalPEG(ConditionalPosEncoding):
    """``X + DWConv(X)`` on the token grid, with zero padding; prefix tokens pass through.

    Chu et al. 2021, "Conditional Positional Encodings for Vision Transformers", arXiv
    2102.10882 (``PosCNN`` in Meituan-AutoML/Twins). The zero padding at the borders is what lets
    the tokens learn where they are; away from the borders the map is translation-equivariant.
    Put it after block 0 (the paper's best position) with ``cond_pos_indices=(0,)``.

    Args:
        dim: token width.
        kernel_size: odd side of the depthwise kernel (3 in the paper).
    """

    def __init__(self, dim: int, kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'ConditionalPEG: kernel_size must be odd, got {kernel_size}')
        self.proj = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim,
                              bias=True)

    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        prefix, tokens = x[:, :num_prefix], x[:, num_prefix:]
        grid = tokens_to_map(tokens, hw)  # (B, C, H, W)
        grid = grid + token_map_conv(grid, self.proj)  # compiles at any size
        tokens = grid.flatten(2).transpose(1, 2)  # (B, H * W, C)
        return torch.cat([prefix, tokens], dim=1)

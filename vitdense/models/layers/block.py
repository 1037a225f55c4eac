"""The pre-norm transformer block, with global or windowed attention."""
import torch
from torch import nn

from vitdense.models.pos_encodings.base import AttentionPosEncoding, Grid

from .attention import Attention
from .drop_path import DropPath, LayerScale
from .mlp import Mlp
from .windows import pad_to_multiple, window_partition, window_unpartition


class Block(nn.Module):
    """x + attn(norm(x)), then x + mlp(norm(x)); attention over windows when ``window_size > 0``.

    In a windowed block the patch grid is padded to a multiple of the window and split into
    windows (ViTDet, Li et al. 2022, arXiv 2203.16527); prefix tokens (cls, registers) do not
    take part in windowed attention: their attention branch adds nothing.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path: float = 0.0, layer_scale: float | None = None, window_size: int = 0,
                 attn_pos_enc: AttentionPosEncoding | None = None):
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, pos_enc=attn_pos_enc)
        self.ls1 = LayerScale(dim, layer_scale) if layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim, layer_scale) if layer_scale else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def _attend(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        if not self.window_size:
            return self.attn(x, hw, num_prefix)
        b, _, c = x.shape
        win = self.window_size
        grid = x[:, num_prefix:].reshape(b, hw[0], hw[1], c)  # (B, H, W, C)
        # project before padding and after cropping: a padded token's qkv is the qkv bias
        qkv, padded_hw = pad_to_multiple(self.attn.qkv(grid), win, self.attn.qkv.bias)
        windows = self.attn.attend(window_partition(qkv, win), (win, win), 0)  # (B*nW, win², C)
        grid = window_unpartition(windows, win, padded_hw, hw)  # (B, H, W, C)
        grid = self.attn.proj(grid).reshape(b, hw[0] * hw[1], c)  # (B, H * W, C)
        if not num_prefix:
            return grid
        return torch.cat([grid.new_zeros(b, num_prefix, c), grid], dim=1)  # (B, P + H * W, C)

    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        """x: (B, P + H * W, C) -> same shape."""
        x = x + self.drop_path(self.ls1(self._attend(self.norm1(x), hw, num_prefix)))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))

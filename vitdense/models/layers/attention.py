"""Multi-head self-attention on ``F.scaled_dot_product_attention`` with a PE slot."""
import torch
from torch import nn

from vitdense.models.pos_encodings.attention_bias import attend
from vitdense.models.pos_encodings.base import AttentionPosEncoding, Grid
from vitdense.models.utils.tracing import is_tracing


class Attention(nn.Module):
    """Multi-head self-attention (Vaswani et al. 2017, arXiv 1706.03762).

    The optional attention position encoding may rotate q/k and return a logit bias of the
    protocol in ``pos_encodings/attention_bias.py`` (None, a tensor, or an ``AttentionBias``
    that applies itself); this module never looks at the PE's or the bias's type.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 pos_enc: AttentionPosEncoding | None = None):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim={dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.pos_enc = pos_enc

    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        """x: (B, N, C) with N = num_prefix + h * w -> (B, N, C)."""
        return self.proj(self.attend(self.qkv(x), hw, num_prefix))

    def attend(self, qkv: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        """The attention between the projections: qkv (B, N, 3C) from ``self.qkv`` -> (B, N, C).

        Split from :meth:`forward` so that a windowed block can project the unpadded grid.
        """
        b, n, _ = qkv.shape
        qkv = qkv.reshape(b, n, 3, self.num_heads, self.head_dim)  # (B, N, 3, heads, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, heads, N, d)
        bias = None
        if self.pos_enc is not None:
            q, k, bias = self.pos_enc(q, k, hw, num_prefix)
            if q.shape[-1] != self.head_dim or k.shape[-1] != self.head_dim:
                raise ValueError(
                    f'{type(self.pos_enc).__name__} returned q and k of {q.shape[-1]} and '
                    f'{k.shape[-1]} channels; the attention has head_dim={self.head_dim}. To '
                    f'change the logits with extra channels, return an ExtraChannelsBias '
                    f'(vitdense.models.pos_encodings.attention_bias).')
        x = attend(q, k, v, bias, self.head_dim ** -0.5).transpose(1, 2)  # (B, N, heads, d)
        if is_tracing():  # torch.export may decompose SDPA into a layout other than it traced
            x = x.clone(memory_format=torch.contiguous_format)
        return x.reshape(b, n, -1)  # (B, N, C)

"""DETR's transformer layers: post-norm encoder and decoder layers with positions on q and k.

Carion et al. 2020, "End-to-End Object Detection with Transformers", arXiv 2005.12872. Positions
are added to queries and keys, never to values; padding is masked in every attention.
"""
from typing import Optional

from torch import Tensor, nn

from .attention import MultiheadAttention


class FFN(nn.Module):
    """Linear -> ReLU -> dropout -> Linear -> dropout, as DETR's layers."""

    def __init__(self, embed_dims: int, ffn_dims: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(embed_dims, ffn_dims), nn.ReLU(inplace=True),
                                    nn.Dropout(dropout), nn.Linear(ffn_dims, embed_dims),
                                    nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def with_pos(x: Tensor, pos: Optional[Tensor]) -> Tensor:
    """``x + pos``, or ``x`` without positions."""
    return x if pos is None else x + pos


class DetrEncoderLayer(nn.Module):
    """Self-attention over the feature map, then an FFN; each followed by add & LayerNorm.

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        ffn_dims: hidden width of the FFN.
        dropout: dropout in attention and FFN.
    """

    def __init__(self, embed_dims: int, num_heads: int, ffn_dims: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(embed_dims, num_heads, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, ffn_dims, dropout)
        self.norm2 = nn.LayerNorm(embed_dims)

    def forward(self, x: Tensor, pos: Optional[Tensor],
                key_padding_mask: Optional[Tensor] = None) -> Tensor:
        """x, pos: (B, S, C); key_padding_mask: (B, S) True at padding -> (B, S, C)."""
        q = with_pos(x, pos)
        x = self.norm1(x + self.dropout(self.self_attn(q, q, x,
                                                       key_padding_mask=key_padding_mask)))
        return self.norm2(x + self.ffn(x))


class DetrDecoderLayer(nn.Module):
    """Query self-attention, cross-attention to the memory, FFN; each with add & LayerNorm.

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        ffn_dims: hidden width of the FFN.
        dropout: dropout in attention and FFN.
    """

    def __init__(self, embed_dims: int, num_heads: int, ffn_dims: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(embed_dims, num_heads, dropout=dropout)
        self.cross_attn = MultiheadAttention(embed_dims, num_heads, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, ffn_dims, dropout)
        self.norm3 = nn.LayerNorm(embed_dims)

    def forward(self, query: Tensor, query_pos: Optional[Tensor], memory: Tensor,
                memory_pos: Optional[Tensor], memory_mask: Optional[Tensor] = None) -> Tensor:
        """query, query_pos: (B, Q, C); memory, memory_pos: (B, S, C); memory_mask: (B, S) True
        at padding -> (B, Q, C)."""
        q = with_pos(query, query_pos)
        query = self.norm1(query + self.dropout(self.self_attn(q, q, query)))
        attn = self.cross_attn(with_pos(query, query_pos), with_pos(memory, memory_pos), memory,
                               key_padding_mask=memory_mask)
        query = self.norm2(query + self.dropout(attn))
        return self.norm3(query + self.ffn(query))


class MLP(nn.Module):
    """``num_layers`` Linear layers with ReLU between them: DETR's box and query-position heads.

    Args:
        in_dims: input width.
        hidden_dims: width of the hidden layers.
        out_dims: output width.
        num_layers: Linear layers (>= 1).
    """

    def __init__(self, in_dims: int, hidden_dims: int, out_dims: int, num_layers: int) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'MLP: num_layers must be >= 1, got {num_layers}')
        widths = [in_dims] + [hidden_dims] * (num_layers - 1) + [out_dims]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x.relu()
        return x

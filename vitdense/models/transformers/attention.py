"""Multi-head attention with separate query, key and value inputs, for DETR decoders."""
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from vitdense.models.utils.sdpa import scaled_dot_product_attention
from vitdense.registry import MODELS


def _additive_mask(attn_mask: Tensor | None, key_padding_mask: Tensor | None, batch: int,
                   heads: int, queries: int, keys: int, dtype: torch.dtype) -> Tensor | None:
    """torch.nn.MultiheadAttention's masks as one finite additive SDPA mask.

    Blocked logits get the dtype's lowest finite value instead of -inf, so that a query whose
    keys are all blocked averages them instead of giving NaN.

    Args:
        attn_mask: (Q, S) or (B * heads, Q, S); bool True = blocked, or float added to logits.
        key_padding_mask: (B, S) bool, True = padding.

    Returns:
        None or a (B or 1, heads or 1, Q, S) float mask.
    """
    lowest = torch.finfo(dtype).min
    mask = None
    if attn_mask is not None:
        if attn_mask.dim() == 2 and attn_mask.shape == (queries, keys):
            mask = attn_mask[None, None]  # (1, 1, Q, S)
        elif attn_mask.dim() == 3 and attn_mask.shape == (batch * heads, queries, keys):
            mask = attn_mask.view(batch, heads, queries, keys)
        else:
            raise ValueError(f'attn_mask must be (Q, S) = {(queries, keys)} or (B * heads, Q, S) = '
                             f'{(batch * heads, queries, keys)}, got {tuple(attn_mask.shape)}')
        if mask.dtype == torch.bool:
            mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask,
                                                                                      lowest)
        else:
            mask = mask.to(dtype).clamp_min(lowest)  # -inf -> lowest
    if key_padding_mask is not None:
        if key_padding_mask.shape != (batch, keys) or key_padding_mask.dtype != torch.bool:
            raise ValueError(f'key_padding_mask must be a (B, S) = {(batch, keys)} bool tensor, '
                             f'got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}')
        padding = key_padding_mask[:, None, None, :]  # (B, 1, 1, S)
        base = torch.zeros((), dtype=dtype, device=padding.device) if mask is None else mask
        mask = torch.where(padding, torch.tensor(lowest, dtype=dtype, device=padding.device),
                           base)
    return mask


@MODELS.register_module()
class MultiheadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017, "Attention Is All You Need", arXiv 1706.03762)
    as DETR's transformer uses it (Carion et al. 2020, "End-to-End Object Detection with
    Transformers", arXiv 2005.12872).

    Query, key and value are separate inputs, so that position embeddings can be added to the
    query and key but not to the value. Parameters and masks follow
    ``torch.nn.MultiheadAttention`` (``in_proj_weight``, ``in_proj_bias``, ``out_proj``;
    bool ``attn_mask`` True = blocked, ``key_padding_mask`` True = padding), so its state dicts
    load and its results are the reference; inputs are batch-first. Runs on
    ``F.scaled_dot_product_attention``. A query whose keys are all masked gets a finite output
    (the mean of the values) instead of NaN.
    """

    def __init__(self, embed_dims: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by num_heads={num_heads}')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        self.embed_dims, self.num_heads, self.dropout = embed_dims, num_heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dims, embed_dims))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dims)) if bias else None
        self.out_proj = nn.Linear(embed_dims, embed_dims, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """As ``torch.nn.MultiheadAttention``: Xavier-uniform input projection, zero biases."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, attn_mask: Tensor | None = None
                ) -> Tensor:
        """Attend from each query to the keys.

        Args:
            query: (B, Q, C).
            key: (B, S, C).
            value: (B, S, C).
            key_padding_mask: (B, S) bool, True = padding (not attended).
            attn_mask: (Q, S) or (B * heads, Q, S); bool True = blocked, or float added to the
                attention logits.

        Returns:
            (B, Q, C).
        """
        b, q_len, _ = query.shape
        k_len = key.shape[1]
        weights = self.in_proj_weight.chunk(3)
        biases = self.in_proj_bias.chunk(3) if self.in_proj_bias is not None else (None,) * 3
        q, k, v = (F.linear(x, w, bias) for x, w, bias in zip((query, key, value), weights, biases))
        # (B, L, C) -> (B, L, heads, d) -> (B, heads, L, d)
        q, k, v = (x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2) for x in (q, k, v))
        mask = _additive_mask(attn_mask, key_padding_mask, b, self.num_heads, q_len, k_len,
                              q.dtype)
        out = scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).reshape(b, q_len, -1))  # (B, Q, C)

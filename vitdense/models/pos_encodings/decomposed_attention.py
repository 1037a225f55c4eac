"""The decomposed (row + column) logit bias of MViTv2 / ViTDet, applied by query chunks."""
import torch
from torch.nn import functional as F

from .chunked_attention import ChunkedBias, chunked_bias_attention


class DecomposedBias(ChunkedBias):
    """A logit bias ``rel_h[i, y_j] + rel_w[i, x_j]`` for query i and key j at row y_j, column x_j.

    Its two factors are far smaller than the (B, heads, P + N, P + N) bias they stand for;
    prefix queries and keys (the first ``num_prefix``) get a zero bias.

    Args:
        rel_h: (B, heads, N, h) per grid query and key row.
        rel_w: (B, heads, N, w) per grid query and key column.
        num_prefix: P, tokens before the h x w grid.
    """

    def __init__(self, rel_h: torch.Tensor, rel_w: torch.Tensor, num_prefix: int):
        self.rel_h, self.rel_w, self.num_prefix = rel_h, rel_w, num_prefix
        self.factors = (_pad_rows(rel_h, num_prefix), _pad_rows(rel_w, num_prefix))

    def num_queries(self) -> int:
        return self.factors[0].shape[2]

    def rows(self, factors: tuple[torch.Tensor, ...], start: int, stop: int) -> torch.Tensor:
        """(B, heads, r, P + N)."""
        rel_h, rel_w = factors
        rows = rel_h[:, :, start:stop, :, None] + rel_w[:, :, start:stop, None, :]  # (B,n,r,h,w)
        rows = rows.flatten(-2)  # (B, heads, r, h * w)
        p = self.num_prefix
        return F.pad(rows, (p, 0)) if p else rows  # (B, heads, r, P + N)

    def rows_into(self, factors: tuple[torch.Tensor, ...], out: torch.Tensor, start: int,
                  stop: int) -> torch.Tensor:
        """One broadcast add into the (B, heads, r, h, w) view of ``out``'s grid keys."""
        rel_h, rel_w = factors
        p = self.num_prefix
        out[..., :p] = 0
        grid = out[..., p:].unflatten(-1, (rel_h.shape[-1], rel_w.shape[-1]))
        torch.add(rel_h[:, :, start:stop, :, None], rel_w[:, :, start:stop, None, :], out=grid)
        return out

    def add_rows(self, factors: tuple[torch.Tensor, ...], logits: torch.Tensor, start: int,
                 stop: int) -> None:
        """Two broadcast adds into the (B, heads, r, h, w) view of the grid keys' logits."""
        rel_h, rel_w = factors
        grid = logits[..., self.num_prefix:].unflatten(-1, (rel_h.shape[-1], rel_w.shape[-1]))
        grid += rel_h[:, :, start:stop, :, None]
        grid += rel_w[:, :, start:stop, None, :]

    def backward_rows(self, factors: tuple[torch.Tensor, ...], grad_rows: torch.Tensor,
                      start: int, stop: int, grads: list[torch.Tensor]) -> None:
        h, w = factors[0].shape[-1], factors[1].shape[-1]
        grid = grad_rows[..., self.num_prefix:].unflatten(-1, (h, w))  # (B, heads, r, h, w)
        grads[0][:, :, start:stop] += grid.sum(-1)
        grads[1][:, :, start:stop] += grid.sum(-2)


def _pad_rows(rel: torch.Tensor, num_prefix: int) -> torch.Tensor:
    """(B, heads, N, k) -> (B, heads, P + N, k) with zero rows for the prefix queries."""
    return F.pad(rel, (0, 0, num_prefix, 0)) if num_prefix else rel


def decomposed_bias_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                              bias: DecomposedBias, scale: float) -> torch.Tensor:
    """softmax(scale q k^T + bias) v without the N x N bias or weights kept for backward.

    Args:
        q, k, v: (B, heads, P + N, d).
        bias: the decomposed bias of these tokens (N = h * w).
        scale: logit scale, usually d^-0.5.

    Returns:
        (B, heads, P + N, d), with gradients for q, k, v and both bias factors.
    """
    return chunked_bias_attention(q, k, v, bias, scale)

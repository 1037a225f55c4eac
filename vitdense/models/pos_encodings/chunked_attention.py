"""Attention whose logit bias is built per query chunk from small factors, with exact gradients.

A relative-position bias is a function of a few small tensors (a table per offset bucket, or
per-row and per-column terms). Handing it to attention as a (B, heads, N, N) tensor costs
memory, and torch's fused CPU attention computes no gradient for a bias, so autograd keeps the
N x N bias and weights for backward. Here the bias rows of one chunk of queries are built from
the factors inside the chunk, and the backward recomputes each chunk's weights and sends the
gradient of its logits back to the factors: only q, k, v and the factors are kept.
"""
from abc import abstractmethod

import torch

from .attention_bias import AttentionBias

CHUNK_ELEMENTS = 1 << 22  # logits per query chunk (B * heads * rows * keys): 16 MB in fp32


class ChunkedBias(AttentionBias):
    """A bias applied by query chunks: subclasses say how to build and differentiate its rows.

    Attributes:
        factors: the tensors the bias is computed from (gradients flow to them).
    """

    factors: tuple[torch.Tensor, ...]

    @abstractmethod
    def rows(self, factors: tuple[torch.Tensor, ...], start: int, stop: int) -> torch.Tensor:
        """Bias rows ``start:stop`` from ``factors``: broadcastable to (B, heads, r, M), M keys."""

    def add_rows(self, factors: tuple[torch.Tensor, ...], logits: torch.Tensor, start: int,
                 stop: int) -> None:
        """``logits += rows(start, stop)`` in place (a subclass may avoid making the rows)."""
        logits += self.rows(factors, start, stop)

    @abstractmethod
    def backward_rows(self, factors: tuple[torch.Tensor, ...], grad_rows: torch.Tensor,
                      start: int, stop: int, grads: list[torch.Tensor]) -> None:
        """Add the gradient of bias rows ``start:stop`` (``grad_rows`` (B, heads, r, M)) to
        ``grads`` (zero-initialised, one per factor, same shapes)."""

    def dense(self) -> torch.Tensor:
        n = self.num_queries()
        return self.rows(self.factors, 0, n)

    @abstractmethod
    def num_queries(self) -> int:
        """N, the number of queries (and keys) this bias is for."""

    def apply(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              scale: float) -> torch.Tensor:
        """By query chunks, never making the N x N bias: (B, heads, N, d)."""
        return chunked_bias_attention(q, k, v, self, scale)


def _chunk_rows(batch_heads: int, keys: int) -> int:
    return max(1, CHUNK_ELEMENTS // (batch_heads * keys))


class _ChunkedBiasAttention(torch.autograd.Function):
    """softmax(scale q k^T + bias) v by query chunks; backward recomputes each chunk's weights."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: ChunkedBias,
                scale: float, *factors: torch.Tensor) -> torch.Tensor:
        b, heads, n, _ = q.shape
        ctx.save_for_backward(q, k, v, *factors)
        ctx.bias, ctx.scale = bias, scale
        out = torch.empty_like(q)  # (B, heads, N, d)
        kt = k.transpose(-1, -2)  # (B, heads, d, N)
        step = _chunk_rows(b * heads, n)
        for start in range(0, n, step):
            stop = min(start + step, n)
            logits = torch.matmul(q[:, :, start:stop], kt).mul_(scale)  # (B, heads, r, N)
            bias.add_rows(factors, logits, start, stop)
            torch.matmul(torch.softmax(logits, -1), v, out=out[:, :, start:stop])
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        q, k, v, *factors = ctx.saved_tensors
        bias, scale = ctx.bias, ctx.scale
        b, heads, n, _ = q.shape
        grad_out = grad_out.to(q.dtype)
        dq, dk, dv = torch.empty_like(q), torch.zeros_like(k), torch.zeros_like(v)
        grads = [torch.zeros_like(f, dtype=torch.promote_types(f.dtype, torch.float32))
                 for f in factors]  # sums over many rows: at least float32
        kt, vt = k.transpose(-1, -2), v.transpose(-1, -2)  # (B, heads, d, N)
        step = _chunk_rows(b * heads, n)
        for start in range(0, n, step):
            stop = min(start + step, n)
            logits = torch.matmul(q[:, :, start:stop], kt).mul_(scale)
            bias.add_rows(factors, logits, start, stop)
            probs = torch.softmax(logits, -1)  # (B, heads, r, N)
            g = grad_out[:, :, start:stop]  # (B, heads, r, d)
            d_logits = torch._softmax_backward_data(torch.matmul(g, vt), probs, -1, probs.dtype)
            bias.backward_rows(factors, d_logits, start, stop, grads)
            dv += torch.matmul(probs.transpose(-1, -2), g)
            torch.matmul(d_logits, k, out=dq[:, :, start:stop]).mul_(scale)
            dk += torch.matmul(d_logits.transpose(-1, -2), q[:, :, start:stop]).mul_(scale)
        return (dq, dk, dv, None, None, *(g.to(f.dtype) for g, f in zip(grads, factors)))


def chunked_bias_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: ChunkedBias,
                           scale: float) -> torch.Tensor:
    """softmax(scale q k^T + bias) v without the N x N bias or weights kept for backward.

    Args:
        q, k, v: (B, heads, N, d).
        bias: its rows are built per chunk from ``bias.factors``.
        scale: logit scale, usually d^-0.5.

    Returns:
        (B, heads, N, d), with gradients for q, k, v and every factor of the bias.
    """
    k, v = k.to(q.dtype), v.to(q.dtype)
    factors = tuple(f.to(q.dtype) if f.is_floating_point() else f for f in bias.factors)
    with torch.autocast(q.device.type, enabled=False):  # the inputs' dtype throughout
        return _ChunkedBiasAttention.apply(q, k, v, bias, scale, *factors)

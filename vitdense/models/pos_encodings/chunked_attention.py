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
from torch.nn import functional as F

from .attention_bias import AttentionBias

CHUNK_ELEMENTS = 1 << 22  # logits per query chunk (B * heads * rows * keys): 16 MB in fp32
FUSED_CHUNK_FACTOR = 4  # without gradients: nothing kept per chunk, larger chunks pay


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

    def rows_into(self, factors: tuple[torch.Tensor, ...], out: torch.Tensor, start: int,
                  stop: int) -> torch.Tensor:
        """Bias rows ``start:stop`` written into ``out`` (B, heads, r, M), which is returned.

        A buffer reused across chunks: a new multi-MB tensor per chunk costs page faults.
        """
        self.add_rows(factors, out.zero_(), start, stop)
        return out

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
        ctx.save_for_backward(q, k, v, *factors)
        ctx.bias, ctx.scale = bias, scale
        out = torch.empty_like(q)  # (B, heads, N, d)
        qs, k3, v3, out3 = _batched(q * scale, k, v, out)  # the scale on (N, d), not on logits
        kt = k3.transpose(1, 2)  # (B * heads, d, M)
        for start, stop, rows in _bias_row_chunks(q, k, bias, factors):
            logits = rows.flatten(0, 1).baddbmm_(qs[:, start:stop], kt)  # rows + scale q k^T
            torch.bmm(torch.softmax(logits, -1), v3, out=out3[:, start:stop])
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        q, k, v, *factors = ctx.saved_tensors
        bias, scale = ctx.bias, ctx.scale
        b, heads = q.shape[:2]
        dq, dk, dv = torch.empty_like(q), torch.zeros_like(k), torch.zeros_like(v)
        grads = [torch.zeros_like(f, dtype=torch.promote_types(f.dtype, torch.float32))
                 for f in factors]  # sums over many rows: at least float32
        qs, k3, v3, g3, dq3, dk3, dv3 = _batched(
            q * scale, k, v, grad_out.to(q.dtype).contiguous(), dq, dk, dv)
        kt, vt = k3.transpose(1, 2), v3.transpose(1, 2)  # (B * heads, d, M)
        for start, stop, rows in _bias_row_chunks(q, k, bias, factors):
            logits = rows.flatten(0, 1).baddbmm_(qs[:, start:stop], kt)  # (B * heads, r, M)
            probs = torch.softmax(logits, -1)
            g = g3[:, start:stop]  # (B * heads, r, d)
            d_logits = torch._softmax_backward_data(torch.bmm(g, vt), probs, -1, probs.dtype)
            bias.backward_rows(factors, d_logits.view(b, heads, stop - start, -1), start, stop,
                               grads)
            dv3.baddbmm_(probs.transpose(1, 2), g)  # accumulated in the matmul, no extra pass
            torch.bmm(d_logits, k3, out=dq3[:, start:stop]).mul_(scale)
            dk3.baddbmm_(d_logits.transpose(1, 2), qs[:, start:stop])
        return (dq, dk, dv, None, None, *(g.to(f.dtype) for g, f in zip(grads, factors)))


def _batched(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """(B, heads, N, d) contiguous tensors as (B * heads, N, d) views."""
    return [t.view(-1, *t.shape[2:]) for t in tensors]


def _bias_row_chunks(q: torch.Tensor, k: torch.Tensor, bias: ChunkedBias,
                     factors: tuple[torch.Tensor, ...], chunk_factor: int = 1):
    """Yield (start, stop, bias rows (B, heads, r, M)) per query chunk, all in one buffer (each
    chunk's rows are overwritten by the next); chunks hold ``chunk_factor`` x CHUNK_ELEMENTS."""
    b, heads, n, _ = q.shape
    step = min(n, _chunk_rows(b * heads, k.shape[2]) * chunk_factor)
    buffer = q.new_empty(b, heads, step, k.shape[2])
    for start in range(0, n, step):
        stop = min(start + step, n)
        yield start, stop, bias.rows_into(factors, buffer[:, :, :stop - start], start, stop)


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
    # Contiguous once: q, k, v are usually strided views of one qkv projection, and every
    # chunk's matmul would otherwise copy all of k (measured: half of a ViT-B forward at 1024).
    dtype = q.dtype
    q, k, v = q.contiguous(), k.to(dtype).contiguous(), v.to(dtype).contiguous()
    factors = tuple(f.to(dtype) if f.is_floating_point() else f for f in bias.factors)
    with torch.autocast(q.device.type, enabled=False):  # the inputs' dtype throughout
        if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, *factors)):
            return _ChunkedBiasAttention.apply(q, k, v, bias, scale, *factors)
        return _fused_chunks(q, k, v, bias, scale, factors)


def _fused_chunks(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: ChunkedBias,
                  scale: float, factors: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Without gradients: torch's fused attention, given one query chunk's bias rows at a time.

    Chunks are ``FUSED_CHUNK_FACTOR`` times larger than the autograd path's, their bias rows
    written into one reused buffer. Measured on ViT-B at 1024 px in bf16 (docs/benchmarks.md,
    issue 12): the fused kernel takes the scale, softmax and weighted sum in one pass.
    """
    out = torch.empty_like(q)
    for start, stop, rows in _bias_row_chunks(q, k, bias, factors, FUSED_CHUNK_FACTOR):
        out[:, :, start:stop] = F.scaled_dot_product_attention(
            q[:, :, start:stop], k, v, attn_mask=rows, scale=scale)
    return out

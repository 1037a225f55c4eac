"""Attention with a decomposed (row + column) logit bias, query-chunked, with exact gradients."""
import torch
from torch.nn import functional as F

from .attention_bias import AttentionBias

CHUNK_ELEMENTS = 1 << 22  # logits per query chunk (B * heads * rows * keys): 16 MB in fp32


class DecomposedBias(AttentionBias):
    """A logit bias ``rel_h[i, y_j] + rel_w[i, x_j]`` for query i and key j at row y_j, column x_j.

    Its two factors are far smaller than the (B, heads, P + N, P + N) bias they stand for;
    prefix queries and keys (the first ``num_prefix``) get a zero bias.

    Attributes:
        rel_h: (B, heads, N, h) per grid query and key row.
        rel_w: (B, heads, N, w) per grid query and key column.
        num_prefix: P, tokens before the h x w grid.
    """

    def __init__(self, rel_h: torch.Tensor, rel_w: torch.Tensor, num_prefix: int):
        self.rel_h, self.rel_w, self.num_prefix = rel_h, rel_w, num_prefix

    def dense(self) -> torch.Tensor:
        """The full bias: (B, heads, P + N, P + N)."""
        p = self.num_prefix
        return _rows(_pad_rows(self.rel_h, p), _pad_rows(self.rel_w, p), p, 0, None)

    def apply(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              scale: float) -> torch.Tensor:
        """By query chunks, never making the N x N bias: (B, heads, P + N, d)."""
        return decomposed_bias_attention(q, k, v, self, scale)


def _pad_rows(rel: torch.Tensor, num_prefix: int) -> torch.Tensor:
    """(B, heads, N, k) -> (B, heads, P + N, k) with zero rows for the prefix queries."""
    return F.pad(rel, (0, 0, num_prefix, 0)) if num_prefix else rel


def _rows(rel_h: torch.Tensor, rel_w: torch.Tensor, num_prefix: int, start: int,
          stop: int | None) -> torch.Tensor:
    """Bias rows ``start:stop`` from the row-padded factors (B, heads, P + N, h or w):
    (B, heads, rows, P + N)."""
    rows = rel_h[:, :, start:stop, :, None] + rel_w[:, :, start:stop, None, :]  # (B, n, r, h, w)
    rows = rows.flatten(-2)  # (B, heads, rows, h * w)
    return F.pad(rows, (num_prefix, 0)) if num_prefix else rows  # (B, heads, rows, P + N)


def _chunk_rows(batch: int, keys: int) -> int:
    return max(1, CHUNK_ELEMENTS // (batch * keys))


def _logits(q: torch.Tensor, kt: torch.Tensor, rel_h: torch.Tensor, rel_w: torch.Tensor,
            num_prefix: int, rows: slice, scale: float) -> torch.Tensor:
    """scale q k^T + bias for query rows ``rows``: (B * heads, r, P + N)."""
    bias = _rows(rel_h, rel_w, num_prefix, rows.start, rows.stop).flatten(0, 1)  # (B*n, r, P+N)
    return torch.baddbmm(bias, q[:, rows], kt, alpha=scale)


class _DecomposedBiasAttention(torch.autograd.Function):
    """softmax(scale q k^T + bias) v by query chunks; backward recomputes each chunk's weights.

    Only q, k, v and the bias factors are kept for backward (no N x N tensor); the bias
    factors get ``dS`` summed over key columns (rel_h) and key rows (rel_w).
    """

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rel_h: torch.Tensor,
                rel_w: torch.Tensor, num_prefix: int, scale: float) -> torch.Tensor:
        b, heads, n, d = q.shape
        q, k, v = (t.reshape(b * heads, n, d).contiguous() for t in (q, k, v))  # (B*n, P+N, d)
        ctx.save_for_backward(q, k, v, rel_h, rel_w)
        rel_h, rel_w = _pad_rows(rel_h, num_prefix), _pad_rows(rel_w, num_prefix)
        ctx.num_prefix, ctx.scale = num_prefix, scale
        out = torch.empty_like(q)  # (B * heads, P + N, d)
        kt = k.transpose(1, 2)  # (B * heads, d, P + N)
        step = _chunk_rows(b * heads, n)
        for start in range(0, n, step):
            rows = slice(start, start + step)
            probs = torch.softmax(_logits(q, kt, rel_h, rel_w, num_prefix, rows, scale), -1)
            torch.bmm(probs, v, out=out[:, rows])
        return out.view(b, heads, n, d)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        q, k, v, rel_h, rel_w = ctx.saved_tensors
        p, scale = ctx.num_prefix, ctx.scale
        b, heads, _, h = rel_h.shape
        w = rel_w.shape[-1]
        bn, n, d = q.shape
        grad_out = grad_out.to(q.dtype).reshape(bn, n, d).contiguous()  # (B * heads, P + N, d)
        dq, dk, dv = torch.empty_like(q), torch.zeros_like(k), torch.zeros_like(v)
        d_rel_h = rel_h.new_empty(bn, n, h)
        d_rel_w = rel_w.new_empty(bn, n, w)
        kt, vt = k.transpose(1, 2), v.transpose(1, 2)  # (B * heads, d, P + N)
        rel_h, rel_w = _pad_rows(rel_h, p), _pad_rows(rel_w, p)  # (B, heads, P + N, h or w)
        step = _chunk_rows(bn, n)
        for start in range(0, n, step):
            rows = slice(start, start + step)
            probs = torch.softmax(_logits(q, kt, rel_h, rel_w, p, rows, scale), -1)
            d_logits = torch._softmax_backward_data(torch.bmm(grad_out[:, rows], vt), probs, -1,
                                                    probs.dtype)  # (B * heads, r, P + N)
            grid = d_logits[..., p:].unflatten(-1, (h, w))  # (B * heads, r, h, w)
            torch.sum(grid, -1, out=d_rel_h[:, rows])
            torch.sum(grid, -2, out=d_rel_w[:, rows])
            dv.baddbmm_(probs.transpose(1, 2), grad_out[:, rows])
            torch.bmm(d_logits, k, out=dq[:, rows]).mul_(scale)
            dk.baddbmm_(d_logits.transpose(1, 2), q[:, rows], alpha=scale)
        grads = (t.view(b, heads, n, -1) for t in (dq, dk, dv, d_rel_h, d_rel_w))
        dq, dk, dv, d_rel_h, d_rel_w = grads
        return dq, dk, dv, d_rel_h[:, :, p:], d_rel_w[:, :, p:], None, None


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
    k, v, rel_h, rel_w = (t.to(q.dtype) for t in (k, v, bias.rel_h, bias.rel_w))
    with torch.autocast(q.device.type, enabled=False):  # the inputs' dtype throughout
        return _DecomposedBiasAttention.apply(q, k, v, rel_h, rel_w, bias.num_prefix, scale)

"""What the attention slot may return as its bias, and the one function that applies it.

An attention position encoding (slot 3, ``base.AttentionPosEncoding``) returns ``(q, k, bias)``
with ``bias`` one of:

- ``None``: plain attention;
- a tensor broadcastable to (B, heads, N, N): an additive logit bias, given to
  ``F.scaled_dot_product_attention`` as its ``attn_mask``;
- an :class:`AttentionBias`: an object that computes ``softmax(scale q k^T + bias) v`` itself,
  for biases too large or too structured to hand over as an N x N tensor (factored,
  table-gathered or folded into extra q/k channels).

Attention calls :func:`attend` and never looks at the bias's type beyond this; a new kind of bias
is a new :class:`AttentionBias` subclass beside its PE, with no change to the attention. While a
graph is traced (ONNX export, ``torch.compile``) an ``AttentionBias`` is applied through its
``dense()`` form, which must therefore be traceable (vectorised, no loop over sizes).
"""
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager
from typing import Iterator

import torch
from torch.nn import functional as F

from vitdense.models.utils.sdpa import scaled_dot_product_attention
from vitdense.models.utils.tracing import is_tracing

_DENSE = [False]


@contextmanager
def dense_attention_bias() -> Iterator[None]:
    """Within this block every ``AttentionBias`` is applied through its ``dense()`` form in SDPA
    (autograd keeps the N x N bias): the path a traced graph takes, and the reference that
    the ``PE@dense`` rows of ``tools/analysis/bench_pos_enc.py`` time the chunked path against."""
    _DENSE[0] = True
    try:
        yield
    finally:
        _DENSE[0] = False


class AttentionBias(metaclass=ABCMeta):
    """A logit bias that applies itself to the attention of its tokens."""

    @abstractmethod
    def apply(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              scale: float) -> torch.Tensor:
        """``softmax(scale q k^T + bias) v``: q, k, v (B, heads, N, d) -> (B, heads, N, d)."""

    @abstractmethod
    def dense(self) -> torch.Tensor:
        """The bias as one tensor broadcastable to (B, heads, N, N) (for tests and checks)."""

    def __add__(self, other: torch.Tensor) -> torch.Tensor:
        return self.dense() + other

    __radd__ = __add__


class ExtraChannelsBias(AttentionBias):
    """A bias folded into the dot product: channels appended to q and k.

    The logit bias is ``extra_q . extra_k``. Applied as ``(q ++ extra_q / scale) .
    (k ++ extra_k) * scale = scale q . k + extra_q . extra_k``, so SDPA keeps its fused kernel on
    the wider q and k (v is padded to match and the extra output channels are dropped).

    Args:
        extra_q: (B, heads, N, e) per query.
        extra_k: (B or 1, heads or 1, N, e) per key.
    """

    def __init__(self, extra_q: torch.Tensor, extra_k: torch.Tensor):
        if extra_q.shape[-1] != extra_k.shape[-1]:
            raise ValueError(f'ExtraChannelsBias: q gets {extra_q.shape[-1]} channels but k '
                             f'{extra_k.shape[-1]}; they must match')
        self.extra_q, self.extra_k = extra_q, extra_k

    def apply(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              scale: float) -> torch.Tensor:
        b, heads, _, d = q.shape
        extra = self.extra_q.shape[-1]
        q = torch.cat([q, (self.extra_q / scale).to(q.dtype)], dim=-1)  # (B, heads, N, d + e)
        k = torch.cat([k, self.extra_k.to(k.dtype).expand(b, heads, -1, -1)], dim=-1)
        v = F.pad(v, (0, extra))  # (B, heads, N, d + e): one fused kernel for all three
        return scaled_dot_product_attention(q, k, v, scale=scale)[..., :d]  # (B, heads, N, d)

    def dense(self) -> torch.Tensor:
        """The logit bias ``extra_q extra_k^T``: (B, heads, N, N)."""
        return self.extra_q @ self.extra_k.transpose(-1, -2).to(self.extra_q.dtype)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
           bias: torch.Tensor | AttentionBias | None, scale: float) -> torch.Tensor:
    """``softmax(scale q k^T + bias) v`` for any bias of the protocol above.

    Args:
        q, k, v: (B, heads, N, d).
        bias: None, a tensor broadcastable to (B, heads, N, N), or an :class:`AttentionBias`.
        scale: logit scale, usually d^-0.5.

    Returns:
        (B, heads, N, d).
    """
    if bias is None or isinstance(bias, torch.Tensor):
        mask = None if bias is None else bias.to(q.dtype)
        return scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    if isinstance(bias, AttentionBias) and (is_tracing() or _DENSE[0]):  # a graph holds no custom
        bias = bias.dense()  # autograd function or Python loop over sizes: the dense bias, SDPA
        return scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=scale)
    if not isinstance(bias, AttentionBias):
        raise TypeError(f'An attention position encoding returned a bias of type '
                        f'{type(bias).__name__}; return None, a tensor, or an AttentionBias '
                        f'(vitdense.models.pos_encodings.attention_bias).')
    return bias.apply(q, k, v, scale)

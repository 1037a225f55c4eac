"""``F.scaled_dot_product_attention`` with the faster CPU kernel for short sequences.

On CPU, PyTorch picks its fused (flash) kernel whenever it can. For short sequences its
forward + backward is slower than the math path (``q k^T``, softmax, ``@ v`` as batched
matmuls): on a 2-vCPU AMD EPYC, bf16, 2 threads, 3 heads of 64 (the demo ViT), flash / math
time was 3.2 at 10 tokens (batch 64, the crop pretraining), 1.4 at 144 and 0.93 at 196; at 400
tokens (the demo detector) flash was faster (0.75; ``tools/analysis/bench_attention.py``,
docs/benchmarks.md). The math path also keeps the (N_q x N_k) attention for the backward pass,
which is what makes it slow and memory-hungry for long ones. So on CPU this takes the math path
up to ``CPU_MATH_MAX_LOGITS`` logits per head, the fused kernel above; elsewhere (GPU), and
while a graph is recorded (export, compile), PyTorch chooses.
"""
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from vitdense.models.utils.tracing import is_tracing

CPU_MATH_MAX_LOGITS = 150 * 150


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 scale: float | None = None) -> torch.Tensor:
    """``F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, scale=scale)``: q
    (..., N_q, d), k (..., N_k, d), v (..., N_k, d_v) -> (..., N_q, d_v), on the math path for
    short CPU sequences (module docstring)."""
    short = q.shape[-2] * k.shape[-2] <= CPU_MATH_MAX_LOGITS
    math = q.device.type == 'cpu' and short and not is_tracing()
    with sdpa_kernel([SDPBackend.MATH]) if math else nullcontext():
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p,
                                              scale=scale)

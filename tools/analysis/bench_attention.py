"""Self-attention kernels on CPU: ``F.scaled_dot_product_attention``'s fused (flash) kernel
against its math path (``q k^T``, softmax, ``@ v`` as matmuls), by sequence length.

One step = forward + backward of SDPA on bf16 q, k, v of shape (batch, heads, N, head_dim)
that require gradients, as a bf16-autocast training step runs it. For each N of ``--tokens``
both backends run round-robin on the same inputs (one warm-up step each, then ``--repeats``
rounds); the table gives each one's median step and the ratio flash / math (> 1: the math path
is faster). vitdense takes the math path on CPU up to
``vitdense.models.utils.sdpa.CPU_MATH_MAX_LOGITS`` logits per head (N x N): run this on your
CPU to see where the crossover lies there.

    python tools/analysis/bench_attention.py                       # the demo's shapes
    python tools/analysis/bench_attention.py --batch 2 --heads 12  # ViT-B
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from vitdense.utils.benchmark import machine

BACKENDS = {'flash': SDPBackend.FLASH_ATTENTION, 'math': SDPBackend.MATH}


def step(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grad: torch.Tensor,
         backend: SDPBackend) -> float:
    """Seconds of one forward + backward on ``backend``."""
    start = time.perf_counter()
    with sdpa_kernel([backend]):
        out = F.scaled_dot_product_attention(q, k, v)
    out.backward(grad)
    return time.perf_counter() - start


def bench(batch: int, heads: int, tokens: int, head_dim: int, repeats: int) -> dict[str, float]:
    """Median step seconds of each backend at one shape."""
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(batch, heads, tokens, head_dim, generator=gen, dtype=torch.bfloat16)
               .requires_grad_() for _ in range(3))
    grad = torch.randn(batch, heads, tokens, head_dim, generator=gen, dtype=torch.bfloat16)
    times = {name: [] for name in BACKENDS}
    for name, backend in BACKENDS.items():
        step(q, k, v, grad, backend)  # warm-up
    for _ in range(repeats):
        for name, backend in BACKENDS.items():
            times[name].append(step(q, k, v, grad, backend))
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--heads', type=int, default=3)
    parser.add_argument('--head-dim', type=int, default=64)
    parser.add_argument('--tokens', type=int, nargs='+',
                        default=[10, 64, 144, 256, 400, 625, 1024, 1600, 2500])
    parser.add_argument('--repeats', type=int, default=9)
    parser.add_argument('--threads', type=int, help='torch threads (default: torch\'s)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'# {machine()}; batch {args.batch}, {args.heads} heads of {args.head_dim}, bf16, '
          f'forward + backward, median of {args.repeats}')
    print(f"{'tokens':>7} {'flash ms':>9} {'math ms':>9} {'flash/math':>10}")
    for n in args.tokens:
        t = bench(args.batch, args.heads, n, args.head_dim, args.repeats)
        print(f"{n:>7} {t['flash'] * 1e3:>9.2f} {t['math'] * 1e3:>9.2f} "
              f"{t['flash'] / t['math']:>10.2f}", flush=True)


if __name__ == '__main__':
    main()

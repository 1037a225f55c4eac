"""FLOP counting: the CPU attention kernels count like the CUDA ones; the matmul rate is sane."""
import torch
from torch.nn import functional as F

from vitdense.utils.benchmark import count_flops, matmul_flops_per_s


def test_cpu_sdpa_forward_and_backward_are_counted():
    b, h, n, m, e = 2, 3, 17, 11, 8
    q = torch.randn(b, h, n, e, requires_grad=True)
    k, v = torch.randn(b, h, m, e), torch.randn(b, h, m, e)
    forward = 4 * b * h * n * m * e  # q @ k^T and attn @ v, 2 FLOPs per multiply-add
    assert count_flops(lambda: F.scaled_dot_product_attention(q, k, v)) == forward
    both = count_flops(lambda: F.scaled_dot_product_attention(q, k, v).sum().backward())
    assert both == forward + 10 * b * h * n * m * e  # torch's sdpa_backward_flop_count


def test_matmul_rate_is_positive_in_both_dtypes():
    assert matmul_flops_per_s(None, n=64, repeats=3) > 0
    assert matmul_flops_per_s(torch.bfloat16, n=64, repeats=3) > 0

"""scaled_dot_product_attention: F.scaled_dot_product_attention's values and gradients, on the
math path for short CPU sequences and on the fused kernel for long ones."""
import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from vitdense.models.utils.sdpa import CPU_MATH_MAX_LOGITS, scaled_dot_product_attention


def kernels(fn) -> set[str]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return {e.key for e in prof.key_averages() if 'scaled_dot_product' in e.key}


@pytest.mark.parametrize('tokens', [10, 400])
@pytest.mark.parametrize('masked', [False, True])
def test_same_values_and_gradients_as_torch(tokens, masked):
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, tokens, 16, generator=gen) for _ in range(3))
    mask = torch.randn(1, 3, tokens, tokens, generator=gen) if masked else None
    outs = []
    for fn in (F.scaled_dot_product_attention, scaled_dot_product_attention):
        qkv = [t.clone().requires_grad_() for t in (q, k, v)]
        out = fn(*qkv, attn_mask=mask, scale=0.3)
        out.square().sum().backward()
        outs.append([out.detach()] + [t.grad for t in qkv])
    for ours, ref in zip(outs[1], outs[0]):
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('tokens', [10, int(CPU_MATH_MAX_LOGITS ** 0.5),
                                    int(CPU_MATH_MAX_LOGITS ** 0.5) + 1, 400])
def test_short_cpu_sequences_take_the_math_path_and_long_ones_the_fused_kernel(tokens):
    """10 tokens: the crop pretraining's (3.2x faster on the math path, measured); 400: the demo
    detector's (1.3x faster fused)."""
    q = torch.randn(2, 3, tokens, 16, dtype=torch.bfloat16)
    used = kernels(lambda: scaled_dot_product_attention(q, q, q))
    if tokens * tokens <= CPU_MATH_MAX_LOGITS:
        assert tokens < 400 and 'aten::_scaled_dot_product_attention_math' in used, used
    else:
        assert tokens > 10 and 'aten::_scaled_dot_product_attention_math' not in used, used
        assert any('flash' in name for name in used), used

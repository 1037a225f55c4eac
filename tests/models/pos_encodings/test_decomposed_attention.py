import pytest
import torch
from torch.nn import functional as F

from vitdense.models.layers import Attention, Block
from vitdense.models.pos_encodings import DecomposedRelPosPE
from vitdense.models.pos_encodings import chunked_attention as module
from vitdense.models.pos_encodings.decomposed_attention import (
    DecomposedBias,
    decomposed_bias_attention,
)


def reference(q, k, v, bias: DecomposedBias, scale: float) -> torch.Tensor:
    """The plain math path: the dense (B, heads, P + N, P + N) bias added to the logits."""
    return torch.softmax(q @ k.transpose(-1, -2) * scale + bias.dense(), dim=-1) @ v


def inputs(b: int, heads: int, hw: tuple[int, int], d: int, prefix: int):
    torch.manual_seed(0)
    n = prefix + hw[0] * hw[1]

    def leaf(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, dtype=torch.float64, requires_grad=True)

    return (leaf(b, heads, n, d), leaf(b, heads, n, d), leaf(b, heads, n, d),
            leaf(b, heads, n - prefix, hw[0]), leaf(b, heads, n - prefix, hw[1]))


@pytest.mark.parametrize('chunk', [1 << 22, 37, 1])  # one chunk; ragged chunks; one row each
@pytest.mark.parametrize('b,heads,hw,d,prefix', [(2, 3, (5, 7), 4, 2), (1, 2, (3, 1), 5, 0),
                                                  (3, 1, (4, 3), 6, 1)])
def test_matches_the_math_path_with_exact_gradients(monkeypatch, chunk, b, heads, hw, d, prefix):
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', chunk)
    q, k, v, rel_h, rel_w = leaves = inputs(b, heads, hw, d, prefix)
    bias = DecomposedBias(rel_h, rel_w, prefix)
    out, ref = decomposed_bias_attention(q, k, v, bias, 0.3), reference(q, k, v, bias, 0.3)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(ref)
    got = torch.autograd.grad(out, leaves, grad)
    expected = torch.autograd.grad(ref, leaves, grad)
    for name, u, e in zip(['q', 'k', 'v', 'rel_h', 'rel_w'], got, expected):
        assert u.shape == e.shape, name
        torch.testing.assert_close(u, e, rtol=1e-10, atol=1e-10, msg=name)


def test_gradcheck(monkeypatch):
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', 20)
    prefix = 1

    def fn(q, k, v, rel_h, rel_w):
        return decomposed_bias_attention(q, k, v, DecomposedBias(rel_h, rel_w, prefix), 0.5)

    assert torch.autograd.gradcheck(fn, inputs(2, 2, (2, 3), 3, prefix))


def test_dense_bias_and_addition_match_the_pe_bias():
    pe = DecomposedRelPosPE(num_heads=2, head_dim=8, ref_grid=(3, 4), zero_init=False,
                            fold_into_qk=False)
    q, k = torch.randn(2, 2, 1 + 12, 8), torch.randn(2, 2, 1 + 12, 8)
    _, _, bias = pe(q, k, (3, 4), 1)
    assert isinstance(bias, DecomposedBias)
    dense = pe.bias(q, (3, 4), 1)
    assert torch.equal(bias.dense(), dense)
    logits = torch.randn_like(dense)
    assert torch.equal(logits + bias, logits + dense) and torch.equal(bias + logits, dense + logits)


def dense_attention(attn: Attention, x: torch.Tensor, hw, prefix: int) -> torch.Tensor:
    """``Attention.forward`` through SDPA with the dense bias (the path this module replaces)."""
    b, n, c = x.shape
    qkv = attn.qkv(x).reshape(b, n, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)  # (3,B,n,N,d)
    q, k, bias = attn.pos_enc(qkv[0], qkv[1], hw, prefix)
    out = F.scaled_dot_product_attention(q, k, qkv[2], attn_mask=bias.dense())  # (B, n, N, d)
    return attn.proj(out.transpose(1, 2).reshape(b, n, c))


@pytest.mark.parametrize('hw,prefix', [((5, 7), 2), ((3, 3), 0)])
def test_attention_module_matches_the_dense_path(monkeypatch, hw, prefix):
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', 50)
    torch.manual_seed(0)
    pe = DecomposedRelPosPE(num_heads=2, head_dim=8, ref_grid=(4, 4), zero_init=False,
                            fold_into_qk=False)
    attn = Attention(16, 2, pos_enc=pe).double()
    x = torch.randn(2, prefix + hw[0] * hw[1], 16, dtype=torch.float64, requires_grad=True)
    params = [x, pe.rel_pos_h, pe.rel_pos_w, attn.qkv.weight]
    out, ref = attn(x, hw, prefix), dense_attention(attn, x, hw, prefix)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    got = torch.autograd.grad(out.square().sum(), params)
    expected = torch.autograd.grad(ref.square().sum(), params)
    for u, e in zip(got, expected):
        torch.testing.assert_close(u, e, rtol=1e-9, atol=1e-9)


def test_windowed_block_in_bf16_autocast_stays_close_to_fp32():
    torch.manual_seed(0)
    pe = DecomposedRelPosPE(num_heads=2, head_dim=16, ref_grid=(3, 3), zero_init=False,
                            fold_into_qk=False)
    block = Block(32, 2, window_size=3, attn_pos_enc=pe)
    x = torch.randn(2, 1 + 5 * 7, 32)
    ref = block(x, (5, 7), 1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = block(x, (5, 7), 1)
    out.float().sum().backward()
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)
    assert pe.rel_pos_h.grad is not None and pe.rel_pos_h.grad.dtype == torch.float32
    assert torch.isfinite(pe.rel_pos_h.grad).all() and pe.rel_pos_h.grad.abs().sum() > 0

"""GatheredBias (iRPE's contextual mode): gathered per query chunk, exact against the dense
gather in SDPA, gradients included, for terms on keys, on queries, and both."""
import pytest
import torch

from vitdense.models.layers import Attention
from vitdense.models.pos_encodings import IRPE
from vitdense.models.pos_encodings import chunked_attention as module
from vitdense.models.pos_encodings.attention_bias import dense_attention_bias
from vitdense.models.pos_encodings.gathered_bias import GatheredBias


def dense_reference(q, k, v, bias: GatheredBias, scale: float) -> torch.Tensor:
    return torch.softmax(q @ k.transpose(-1, -2) * scale + bias.dense(), dim=-1) @ v


def test_dense_reads_each_pair_at_its_bucket():
    torch.manual_seed(0)
    lookup_k, lookup_q = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)
    ids_k, ids_q = torch.randint(0, 4, (5, 5), dtype=torch.int16), torch.randint(0, 4, (5, 5))
    dense = GatheredBias([(lookup_k, ids_k, False), (lookup_q, ids_q, True)]).dense()
    for i in range(5):
        for j in range(5):
            expected = lookup_k[:, :, i, ids_k[i, j]] + lookup_q[:, :, j, ids_q[j, i]]
            torch.testing.assert_close(dense[:, :, i, j], expected)


@pytest.mark.parametrize('chunk', [1 << 22, 23, 1])  # one chunk; ragged chunks; one row each
@pytest.mark.parametrize('on', [(False,), (True,), (False, True)])
def test_chunks_match_the_dense_path_with_exact_gradients(monkeypatch, chunk, on):
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', chunk)
    torch.manual_seed(0)
    b, heads, n, d, entries = 2, 3, 7, 4, 5

    def leaf(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, dtype=torch.float64, requires_grad=True)

    q, k, v = leaf(b, heads, n, d), leaf(b, heads, n, d), leaf(b, heads, n, d)
    lookups = [leaf(b, heads, n, entries) for _ in on]
    terms = [(lookup, torch.randint(0, entries, (n, n), dtype=torch.int16), on_q)
             for lookup, on_q in zip(lookups, on)]
    bias = GatheredBias(terms)
    out, ref = bias.apply(q, k, v, 0.4), dense_reference(q, k, v, bias, 0.4)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(ref)
    leaves = [q, k, v, *lookups]
    got, expected = torch.autograd.grad(out, leaves, grad), torch.autograd.grad(ref, leaves, grad)
    for u, e in zip(got, expected):
        torch.testing.assert_close(u, e, rtol=1e-10, atol=1e-10)


def test_gradcheck(monkeypatch):
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', 10)
    torch.manual_seed(0)
    ids = torch.randint(0, 3, (4, 4))
    leaves = [torch.randn(1, 2, 4, s, dtype=torch.float64, requires_grad=True)
              for s in (3, 3, 3, 3, 3)]

    def fn(q, k, v, lookup_k, lookup_q):
        return GatheredBias([(lookup_k, ids, False), (lookup_q, ids, True)]).apply(q, k, v, 0.5)

    assert torch.autograd.gradcheck(fn, leaves)


@pytest.mark.parametrize('config', [dict(method='product', rpe_on='qk', prefix_bucket=True),
                                    dict(method='cross', rpe_on='k', shared_head=False)])
def test_irpe_attention_matches_the_dense_path(monkeypatch, config):
    """The whole attention with iRPE contextual, chunked against dense: output and the
    gradients of the input, the tables and the qkv projection."""
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', 40)
    torch.manual_seed(0)
    pe = IRPE(num_heads=2, head_dim=8, ref_grid=(4, 4), mode='contextual', **config)
    with torch.no_grad():
        for p in pe.parameters():
            p.normal_()
    attn = Attention(16, 2, pos_enc=pe).double()
    x = torch.randn(2, 1 + 3 * 5, 16, dtype=torch.float64, requires_grad=True)
    params = [x, attn.qkv.weight, *pe.parameters()]
    out = attn(x, (3, 5), 1)
    with dense_attention_bias():
        ref = attn(x, (3, 5), 1)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    got = torch.autograd.grad(out.square().sum(), params)
    expected = torch.autograd.grad(ref.square().sum(), params)
    for u, e in zip(got, expected):
        assert e.abs().sum() > 0
        torch.testing.assert_close(u, e, rtol=1e-9, atol=1e-9)


def test_bf16_inputs_give_bf16_output():
    torch.manual_seed(0)
    q = torch.randn(1, 2, 12, 4, dtype=torch.bfloat16)
    bias = GatheredBias([(torch.randn(1, 2, 12, 5), torch.randint(0, 5, (12, 12)), False)])
    out = bias.apply(q, q, q, 0.5)
    assert out.dtype == torch.bfloat16
    ref = dense_reference(q.float(), q.float(), q.float(), bias, 0.5)
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=3e-2)


def test_mismatched_shapes_are_named():
    with pytest.raises(ValueError, match=r'ids \(N, N\) for N = 4'):
        GatheredBias([(torch.zeros(1, 1, 4, 3), torch.zeros(4, 5, dtype=torch.long), False)])
    with pytest.raises(ValueError, match='at least one'):
        GatheredBias([])

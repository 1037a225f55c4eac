"""TableBias: a table gathered by a bucket index per query chunk, exact against the dense path;
and the byte-bounded caches of grid-derived tables."""
import pytest
import torch

from vitdense.models.pos_encodings import chunked_attention as module
from vitdense.models.pos_encodings.grid import tensor_cache
from vitdense.models.pos_encodings.relative import relative_bucket_ids, relative_position_index
from vitdense.models.pos_encodings.table_bias import TableBias


def dense_attention(q, k, v, bias, scale):
    return torch.softmax(q @ k.transpose(-1, -2) * scale + bias, dim=-1) @ v


@pytest.mark.parametrize('chunk', [1 << 22, 50, 1])  # one chunk; ragged chunks; one row each
@pytest.mark.parametrize('shared', [False, True])
def test_matches_the_dense_path_with_exact_gradients(monkeypatch, chunk, shared):
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', chunk)
    torch.manual_seed(0)
    b, heads, n, d = 2, 3, 13, 4
    leaf = lambda *s: torch.randn(*s, dtype=torch.float64, requires_grad=True)  # noqa: E731
    q, k, v = leaf(b, heads, n, d), leaf(b, heads, n, d), leaf(b, heads, n, d)
    tables = [leaf(1 if shared else heads, 7), leaf(heads, 5)]  # two terms, as iRPE 'cross'
    ids = [torch.randint(0, 7, (n, n)), torch.randint(0, 5, (n, n))]
    bias = TableBias(tables, ids)
    dense = bias.dense()
    assert dense.shape == (1, heads, n, n)
    expected_dense = sum(t[:, i] for t, i in zip(tables, ids))[None]
    torch.testing.assert_close(dense, expected_dense)
    out = bias.apply(q, k, v, 0.4)
    ref = dense_attention(q, k, v, expected_dense, 0.4)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(ref)
    leaves = [q, k, v, *tables]
    got_all = torch.autograd.grad(out, leaves, grad)
    want_all = torch.autograd.grad(ref, leaves, grad)
    for name, got, want in zip('q k v table0 table1'.split(), got_all, want_all):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10, msg=name)


def test_gradcheck(monkeypatch):
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', 30)
    torch.manual_seed(0)
    ids = [torch.randint(0, 4, (5, 5))]
    inputs = [torch.randn(1, 2, 5, 3, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    table = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda q, k, v, t: TableBias([t], ids).apply(q, k, v, 0.5), (*inputs, table))


def test_bf16_inputs_give_bf16_output():
    q = torch.randn(1, 2, 9, 4, dtype=torch.bfloat16)
    bias = TableBias([torch.randn(2, 5)], [torch.randint(0, 5, (9, 9))])
    out = bias.apply(q, q, q, 0.5)
    assert out.dtype == torch.bfloat16
    ref = dense_attention(q.float(), q.float(), q.float(), bias.dense(), 0.5)
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=3e-2)


def test_relative_bucket_ids_put_prefix_pairs_on_the_three_extra_entries():
    ids = relative_bucket_ids((2, 3), 2, torch.device('cpu'))
    e = 3 * 5
    assert ids.shape == (8, 8)
    assert (ids[:2, 2:] == e).all() and (ids[2:, :2] == e + 1).all()
    assert (ids[:2, :2] == e + 2).all()
    assert torch.equal(ids[2:, 2:], relative_position_index((2, 3), torch.device('cpu')))


def test_tensor_cache_is_bounded_in_bytes():
    calls = []

    @tensor_cache(max_bytes=1000)
    def table(n: int) -> torch.Tensor:
        calls.append(n)
        return torch.zeros(n, dtype=torch.uint8)

    table(400), table(400), table(500)
    assert calls == [400, 500] and table.cache_info().nbytes == 900
    table(300)  # 1200 bytes: the least recently used (400) goes
    assert table.cache_info().nbytes == 800 and table.cache_info().currsize == 2
    table(400)
    assert calls == [400, 500, 300, 400]
    table(2000), table(2000)  # larger than the budget on its own: computed, never kept
    assert calls[-2:] == [2000, 2000] and table.cache_info().nbytes <= 1000
    table.cache_clear()
    assert table.cache_info().nbytes == 0


def test_a_sweep_over_sizes_keeps_the_index_caches_bounded():
    """Many grid sizes (as a resolution sweep runs) do not pile up (N, N) indices."""
    from vitdense.models.pos_encodings.grid import CACHE_BYTES
    relative_position_index.cache_clear()
    for side in range(8, 48, 4):
        relative_position_index((side, side), torch.device('cpu'))
    assert 0 < relative_position_index.cache_info().nbytes <= CACHE_BYTES

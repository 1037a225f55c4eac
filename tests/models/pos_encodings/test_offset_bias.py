"""OffsetBias: a value per 2D offset added block by block per query chunk, exact against the dense
path; and the byte-bounded caches of grid-derived tables."""
import pytest
import torch

from vitdense.models.pos_encodings import chunked_attention as module
from vitdense.models.pos_encodings.grid import tensor_cache
from vitdense.models.pos_encodings.irpe import irpe_bucket_ids
from vitdense.models.pos_encodings.offset_bias import OffsetBias


def dense_attention(q, k, v, bias, scale):
    return torch.softmax(q @ k.transpose(-1, -2) * scale + bias, dim=-1) @ v


def test_gradcheck(monkeypatch):
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', 30)
    torch.manual_seed(0)
    inputs = [torch.randn(1, 2, 2 + 6, 3, dtype=torch.float64, requires_grad=True)
              for _ in range(3)]
    offsets = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    values = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda q, k, v, o, p: OffsetBias(o, (2, 3), 2, p).apply(q, k, v, 0.5),
        (*inputs, offsets, values))


def test_bf16_inputs_give_bf16_output():
    q = torch.randn(1, 2, 12, 4, dtype=torch.bfloat16)
    bias = OffsetBias(torch.randn(2, 5, 7), (3, 4), 0)
    out = bias.apply(q, q, q, 0.5)
    assert out.dtype == torch.bfloat16
    ref = dense_attention(q.float(), q.float(), q.float(), bias.dense(), 0.5)
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=3e-2)


def test_wrong_offset_table_shape_is_named():
    with pytest.raises(ValueError, match=r"needs offsets of shape \(H', 5, 7\)"):
        OffsetBias(torch.zeros(2, 5, 5), (3, 4), 0)


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
    irpe_bucket_ids.cache_clear()  # iRPE's contextual mode: the one (N, N) index left
    for side in range(8, 48, 4):
        irpe_bucket_ids('product', (side, side), 0, 1.9, 3.8, 15.2, torch.device('cpu'))
    assert 0 < irpe_bucket_ids.cache_info().nbytes <= CACHE_BYTES


@pytest.mark.parametrize('chunk', [1 << 22, 37, 1])
@pytest.mark.parametrize('hw,prefix,shared,with_values', [((3, 4), 0, False, False),
                                                          ((4, 3), 2, False, True),
                                                          ((2, 5), 1, True, True),
                                                          ((1, 1), 3, False, False)])
def test_offset_bias_is_the_offset_lookup_with_exact_gradients(monkeypatch, chunk, hw, prefix,
                                                               shared, with_values):
    from vitdense.models.pos_encodings.offset_bias import OffsetBias
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', chunk)
    torch.manual_seed(0)
    (h, w), heads, d, b = hw, 3, 4, 2
    n = prefix + h * w
    leaf = lambda *s: torch.randn(*s, dtype=torch.float64, requires_grad=True)  # noqa: E731
    q, k, v = leaf(b, heads, n, d), leaf(b, heads, n, d), leaf(b, heads, n, d)
    offsets = leaf(1 if shared else heads, 2 * h - 1, 2 * w - 1)
    values = leaf(1 if shared else heads, 3) if with_values else None
    expected = torch.zeros(offsets.shape[0], n, n, dtype=torch.float64)
    for i in range(h * w):
        for j in range(h * w):
            (yi, xi), (yj, xj) = divmod(i, w), divmod(j, w)
            expected[:, prefix + i, prefix + j] = offsets[:, yi - yj + h - 1, xi - xj + w - 1]
    if with_values:
        expected[:, :prefix, prefix:] = values[:, 0, None, None]
        expected[:, prefix:, :prefix] = values[:, 1, None, None]
        expected[:, :prefix, :prefix] = values[:, 2, None, None]
    bias = OffsetBias(offsets, hw, prefix, values)
    torch.testing.assert_close(bias.dense(), expected[None])
    out, ref = bias.apply(q, k, v, 0.3), dense_attention(q, k, v, expected[None], 0.3)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    leaves = [q, k, v, offsets] + ([values] if with_values else [])
    grad = torch.randn_like(ref)
    for got, want in zip(torch.autograd.grad(out, leaves, grad),
                         torch.autograd.grad(ref, leaves, grad)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_the_contextual_index_of_a_vitdet_grid_fits_the_cache():
    """The (N, N) index is kept compact: at ViTDet's 1024 x 768 input (a 64 x 48 grid, global
    blocks) an int64 index (75 MB) exceeded the cache's budget and was recomputed at every call."""
    from vitdense.models.pos_encodings.grid import CACHE_BYTES
    ids = irpe_bucket_ids('product', (6, 4), 1, 1.9, 3.8, 15.2, torch.device('cpu'))
    assert (64 * 48 + 1) ** 2 * ids.element_size() <= CACHE_BYTES

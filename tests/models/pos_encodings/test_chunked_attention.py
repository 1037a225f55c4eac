"""Without gradients, a chunked bias runs torch's fused attention per query chunk (its rows written
into one reused buffer): equal to the dense math path for every bias kind, prefix tokens and
ragged chunks included, and the autograd path is not taken."""
import pytest
import torch

from vitdense.models.pos_encodings import chunked_attention as module
from vitdense.models.pos_encodings.decomposed_attention import DecomposedBias
from vitdense.models.pos_encodings.gathered_bias import GatheredBias
from vitdense.models.pos_encodings.offset_bias import OffsetBias

B, HEADS, HW, PREFIX, D = 2, 3, (3, 4), 1, 8
N = PREFIX + HW[0] * HW[1]


def make_bias(kind: str, dtype: torch.dtype):
    g = torch.Generator().manual_seed(1)
    randn = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    if kind == 'decomposed':
        grid = N - PREFIX
        return DecomposedBias(randn(B, HEADS, grid, HW[0]), randn(B, HEADS, grid, HW[1]), PREFIX)
    if kind == 'gathered':
        ids = torch.randint(0, 5, (N, N), generator=g)
        terms = [(randn(B, HEADS, N, 5), ids, False), (randn(B, HEADS, N, 5), ids, True)]
        return GatheredBias(terms)
    return OffsetBias(randn(HEADS, 2 * HW[0] - 1, 2 * HW[1] - 1), HW, PREFIX, randn(HEADS, 3))


@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize('chunk', [1 << 22, 11, 1])  # one chunk; ragged chunks; a row or so each
@pytest.mark.parametrize('kind', ['decomposed', 'gathered', 'offset'])
def test_fused_chunks_equal_the_dense_path(monkeypatch, kind, chunk, dtype, tol):
    monkeypatch.setattr(module, 'CHUNK_ELEMENTS', chunk)

    def no_autograd(*args):
        raise AssertionError('the autograd path ran without gradients')

    monkeypatch.setattr(module._ChunkedBiasAttention, 'apply', no_autograd)
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, HEADS, N, D, dtype=dtype) for _ in range(3))
    bias = make_bias(kind, dtype)
    expected = torch.softmax(q @ k.transpose(-1, -2) * 0.3 + bias.dense(), dim=-1) @ v
    with torch.no_grad():
        got = bias.apply(q, k, v, 0.3)
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)
    got = bias.apply(q, k, v, 0.3)  # grad mode on, but nothing requires a gradient
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)


def test_gradients_take_the_autograd_path():
    q, k, v = (torch.randn(1, 2, 5, 4, requires_grad=True) for _ in range(3))
    bias = DecomposedBias(torch.randn(1, 2, 4, 2), torch.randn(1, 2, 4, 2), 1)
    out = bias.apply(q, k, v, 0.5)
    assert out.grad_fn is not None and 'ChunkedBiasAttention' in type(out.grad_fn).__name__

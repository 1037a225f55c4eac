"""Relative attention PEs: the logit between two patches depends only on their offset.

Parametrized over every attention-slot PE in ``POS_ENCODINGS`` (and its ``TEST_CONFIGS``); a
PE that is not relative by design opts out with ``RELATIVE = False`` (declared on the base).
"""
import pytest
import torch
from torch.nn import functional as F

import vitdense.models  # noqa: F401  (registers the PEs)
from vitdense.models.layers import Attention
from vitdense.models.pos_encodings import AttentionPosEncoding
from vitdense.registry import POS_ENCODINGS

HEADS, HEAD_DIM, PREFIX = 2, 8, 1


def relative_cases() -> list:
    cases = []
    for name, cls in sorted(POS_ENCODINGS.module_dict.items()):
        if issubclass(cls, AttentionPosEncoding) and cls.RELATIVE:
            for i, extra in enumerate(cls.TEST_CONFIGS):
                cases.append(pytest.param(name, extra, id=f'{name}-{i}'))
    return cases


def build(name: str, extra: dict, ref_grid: tuple[int, int]) -> AttentionPosEncoding:
    torch.manual_seed(0)
    pe = POS_ENCODINGS.build(dict(type=name, **extra), default_args=dict(
        num_heads=HEADS, head_dim=HEAD_DIM, ref_grid=ref_grid))
    with torch.no_grad():  # zero-initialised tables would make the test vacuous
        for p in pe.parameters():
            p.normal_(0, 0.5)
    return pe


def logits(pe: AttentionPosEncoding, q: torch.Tensor, k: torch.Tensor,
           hw: tuple[int, int]) -> torch.Tensor:
    """The attention logits SDPA sees, (B, heads, N, N), computed by hand from the PE's output."""
    q2, k2, bias = pe(q, k, hw, PREFIX)
    out = (q2 @ k2.transpose(-1, -2)) * HEAD_DIM ** -0.5
    return out if bias is None else out + bias


GRIDS = [((5, 7), (5, 7)), ((6, 9), (4, 5))]  # (runtime grid, reference grid)


@pytest.mark.parametrize('hw,ref', GRIDS, ids=['reference', 'resized'])
@pytest.mark.parametrize('name,extra', relative_cases())
def test_shifting_both_tokens_keeps_their_logit(name, extra, hw, ref):
    """Roll the token grid by s: every pair (a, b) that does not wrap keeps its logit."""
    pe = build(name, extra, ref)
    h, w = hw
    q = torch.randn(1, HEADS, PREFIX + h * w, HEAD_DIM)
    k = torch.randn(1, HEADS, PREFIX + h * w, HEAD_DIM)

    def roll(t: torch.Tensor, s: tuple[int, int]) -> torch.Tensor:
        grid = t[:, :, PREFIX:].reshape(1, HEADS, h, w, HEAD_DIM).roll(s, dims=(2, 3))
        return torch.cat([t[:, :, :PREFIX], grid.reshape(1, HEADS, h * w, HEAD_DIM)], dim=2)

    base = logits(pe, q, k, hw)[:, :, PREFIX:, PREFIX:]
    base = base.reshape(1, HEADS, h, w, h, w)
    for s in [(1, 2), (2, 0), (0, 3)]:
        moved = logits(pe, roll(q, s), roll(k, s), hw)[:, :, PREFIX:, PREFIX:]
        moved = moved.reshape(1, HEADS, h, w, h, w)
        # tokens at rows/cols [0, h - s) move to [s, h) without wrapping
        kept = base[:, :, :h - s[0], :w - s[1], :h - s[0], :w - s[1]]
        shifted = moved[:, :, s[0]:, s[1]:, s[0]:, s[1]:]
        torch.testing.assert_close(shifted, kept, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('name,extra', relative_cases())
def test_equal_contents_give_a_function_of_the_offset(name, extra):
    """With one q and one k vector everywhere, logits(i, j) is a function of p_i - p_j."""
    pe = build(name, extra, (4, 5))
    h, w = 6, 7
    q = torch.randn(1, HEADS, 1, HEAD_DIM).expand(1, HEADS, PREFIX + h * w, HEAD_DIM)
    k = torch.randn(1, HEADS, 1, HEAD_DIM).expand(1, HEADS, PREFIX + h * w, HEAD_DIM)
    grid = logits(pe, q, k, (h, w))[0, :, PREFIX:, PREFIX:]  # (heads, N, N)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    offset_id = (ys[:, None] - ys[None] + h - 1) * (2 * w - 1) + (xs[:, None] - xs[None] + w - 1)
    for head in grid:
        ids, values = offset_id.flatten(), head.flatten()
        size = (2 * h - 1) * (2 * w - 1)
        high = torch.full((size,), -1e9).scatter_reduce(0, ids, values, 'amax')
        low = torch.full((size,), 1e9).scatter_reduce(0, ids, values, 'amin')
        assert (high - low).abs().max() < 1e-4
    assert grid.std() > 1e-3  # the PE does something


@pytest.mark.parametrize('window', [0, 4])
@pytest.mark.parametrize('name,extra', relative_cases())
def test_attention_output_is_softmax_of_those_logits(name, extra, window):
    """The Attention module (SDPA) computes softmax(q k^T / sqrt(d) + bias) v with the PE."""
    hw = (window, window) if window else (5, 6)
    pe = build(name, extra, hw)
    attn = Attention(HEADS * HEAD_DIM, HEADS, pos_enc=pe)
    prefix = 0 if window else PREFIX
    x = torch.randn(2, prefix + hw[0] * hw[1], HEADS * HEAD_DIM)
    b, n, c = x.shape
    q, k, v = attn.qkv(x).reshape(b, n, 3, HEADS, HEAD_DIM).permute(2, 0, 3, 1, 4).unbind(0)
    q2, k2, bias = pe(q, k, hw, prefix)
    scores = (q2 @ k2.transpose(-1, -2)) * HEAD_DIM ** -0.5 + (0 if bias is None else bias)
    ref = F.softmax(scores, dim=-1) @ v  # (B, heads, N, d)
    ref = attn.proj(ref.transpose(1, 2).reshape(b, n, c))
    torch.testing.assert_close(attn(x, hw, prefix), ref, rtol=1e-5, atol=1e-5)

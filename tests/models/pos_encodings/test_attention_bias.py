"""The attention slot's bias protocol: None, a tensor, or an AttentionBias that applies itself."""
import pytest
import torch

from vitdense.models.layers import Attention
from vitdense.models.pos_encodings import (
    AttentionBias,
    AttentionPosEncoding,
    DecomposedRelPosPE,
    ExtraChannelsBias,
    attend,
)
from vitdense.models.pos_encodings import decomposed as decomposed_module
from vitdense.models.pos_encodings.decomposed_attention import DecomposedBias


def math_attention(q, k, v, bias, scale):
    return torch.softmax(q @ k.transpose(-1, -2) * scale + bias, dim=-1) @ v


class ScaledIdentityBias(AttentionBias):
    """A plugin's own bias type: ``weight`` on the diagonal, applied by the math path."""

    def __init__(self, n: int, weight: float):
        self.n, self.weight = n, weight
        self.calls = 0

    def dense(self) -> torch.Tensor:
        return torch.eye(self.n, dtype=torch.float64) * self.weight

    def apply(self, q, k, v, scale):
        self.calls += 1
        return math_attention(q, k, v, self.dense().to(q.dtype), scale)


class DiagonalPE(AttentionPosEncoding):
    def __init__(self, weight: float):
        super().__init__()
        self.weight, self.last = weight, None

    def forward(self, q, k, hw, num_prefix):
        self.last = ScaledIdentityBias(q.shape[2], self.weight)
        return q, k, self.last


def test_a_new_bias_type_needs_no_change_to_the_attention():
    torch.manual_seed(0)
    pe = DiagonalPE(2.0)
    attn = Attention(8, 2, pos_enc=pe).double()
    plain = Attention(8, 2).double()
    plain.load_state_dict(attn.state_dict())
    x = torch.randn(2, 1 + 6, 8, dtype=torch.float64)
    out = attn(x, (2, 3), 1)
    assert pe.last.calls == 1
    qkv = attn.qkv(x).reshape(2, 7, 3, 2, 4).permute(2, 0, 3, 1, 4)
    expected = math_attention(qkv[0], qkv[1], qkv[2], pe.last.dense(), 0.5)
    torch.testing.assert_close(out, attn.proj(expected.transpose(1, 2).reshape(2, 7, 8)))
    assert not torch.allclose(out, plain(x, (2, 3), 1))  # the bias changed the result


@pytest.mark.parametrize('bias', [None, 'tensor'])
def test_attend_with_none_or_a_tensor_is_sdpa(bias):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4, dtype=torch.float64) for _ in range(3))
    dense = torch.randn(1, 3, 5, 5, dtype=torch.float64) if bias else None
    expected = math_attention(q, k, v, 0 if dense is None else dense, 0.7)
    torch.testing.assert_close(attend(q, k, v, dense, 0.7), expected)


def test_extra_channels_bias_adds_its_dense_bias():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4, dtype=torch.float64) for _ in range(3))
    bias = ExtraChannelsBias(torch.randn(2, 3, 5, 6, dtype=torch.float64),
                             torch.randn(1, 1, 5, 6, dtype=torch.float64))
    assert bias.dense().shape == (2, 3, 5, 5)
    torch.testing.assert_close(attend(q, k, v, bias, 0.3),
                               math_attention(q, k, v, bias.dense(), 0.3))
    with pytest.raises(ValueError, match='6 channels but k 2'):
        ExtraChannelsBias(torch.zeros(1, 1, 5, 6), torch.zeros(1, 1, 5, 2))


def test_decomposed_pe_returns_bias_objects_in_both_forms():
    pe = DecomposedRelPosPE(num_heads=2, head_dim=4, ref_grid=(2, 3), zero_init=False,
                            fold_into_qk=False)
    folded = DecomposedRelPosPE(num_heads=2, head_dim=4, ref_grid=(2, 3), fold_into_qk=True)
    folded.load_state_dict(pe.state_dict())
    q, k = torch.randn(1, 2, 7, 4), torch.randn(1, 2, 7, 4)
    (q1, k1, b1), (q2, k2, b2) = pe(q, k, (2, 3), 1), folded(q, k, (2, 3), 1)
    assert isinstance(b1, DecomposedBias) and isinstance(b2, ExtraChannelsBias)
    assert q1 is q and q2 is q and k1 is k and k2 is k  # neither widens q or k
    torch.testing.assert_close(b1.dense(), b2.dense())
    v = torch.randn(1, 2, 7, 4)
    torch.testing.assert_close(attend(q, k, v, b1, 0.5), attend(q, k, v, b2, 0.5))


@pytest.mark.parametrize('amx', [True, False])
def test_decomposed_pe_folds_by_default_on_a_cpu_with_amx(monkeypatch, amx):
    monkeypatch.setattr(decomposed_module, 'cpu_has_amx', lambda: amx)
    pe = DecomposedRelPosPE(num_heads=2, head_dim=4, ref_grid=(2, 3))
    assert pe.fold_into_qk == 'auto'
    _, _, bias = pe(torch.randn(1, 2, 6, 4), torch.randn(1, 2, 6, 4), (2, 3), 0)
    assert isinstance(bias, ExtraChannelsBias if amx else DecomposedBias)
    with pytest.raises(ValueError, match="'yes'"):
        DecomposedRelPosPE(num_heads=2, head_dim=4, ref_grid=(2, 3), fold_into_qk='yes')


class WideningPE(AttentionPosEncoding):
    def forward(self, q, k, hw, num_prefix):
        return torch.cat([q, q], -1), torch.cat([k, k], -1), None


class ListBiasPE(AttentionPosEncoding):
    def forward(self, q, k, hw, num_prefix):
        return q, k, [0.0]


def test_bad_returns_are_named_errors():
    x = torch.randn(1, 4, 8)
    with pytest.raises(ValueError, match='WideningPE returned q and k of 8 and 8 channels.*'
                                         'ExtraChannelsBias'):
        Attention(8, 2, pos_enc=WideningPE())(x, (2, 2), 0)
    with pytest.raises(TypeError, match='bias of type list.*AttentionBias'):
        Attention(8, 2, pos_enc=ListBiasPE())(x, (2, 2), 0)


def test_dense_attention_bias_applies_the_dense_form_with_the_same_result(monkeypatch):
    """The reference path of bench_pos_enc.py's '@dense' rows (and of traced graphs)."""
    from vitdense.models.pos_encodings import OffsetBias, RelPosBiasPE, attention_bias

    torch.manual_seed(0)
    pe = RelPosBiasPE(num_heads=2, head_dim=4, ref_grid=(3, 3), init_std=1.0)
    attn = Attention(8, 2, pos_enc=pe).double()
    x = torch.randn(2, 1 + 12, 8, dtype=torch.float64)
    chunked = attn(x, (3, 4), 1)

    def no_apply(*args):
        raise AssertionError('the chunked path ran inside dense_attention_bias()')

    monkeypatch.setattr(OffsetBias, 'apply', no_apply)
    with attention_bias.dense_attention_bias():
        dense = attn(x, (3, 4), 1)
    torch.testing.assert_close(dense, chunked)
    with pytest.raises(AssertionError, match='chunked path ran'):  # outside: chunked again
        attn(x, (3, 4), 1)

"""MultiheadAttention against torch.nn.MultiheadAttention with the same weights.

Strict state-dict loading both ways; outputs equal in fp32 within atol = rtol = 1e-5 with no
mask, a key padding mask, bool and float attention masks (2-D and per head), and both; a query
whose keys are all masked gets a finite output.
"""
import pytest
import torch
from torch import nn

from vitdense.models.transformers import MultiheadAttention
from vitdense.registry import MODELS

DIM, HEADS, B, Q, S = 32, 4, 2, 5, 7


def build_pair() -> tuple[MultiheadAttention, nn.MultiheadAttention]:
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(DIM, HEADS, batch_first=True).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # non-zero biases
    ours = MultiheadAttention(DIM, HEADS).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    nn.MultiheadAttention(DIM, HEADS, batch_first=True).load_state_dict(ours.state_dict())
    return ours, ref


def masks(kind: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(key_padding_mask, attn_mask) with at least one visible key per query."""
    gen = torch.Generator().manual_seed(2)
    padding = torch.rand(B, S, generator=gen) < 0.4
    padding[:, 0] = False
    blocked = torch.rand(Q, S, generator=gen) < 0.4
    blocked[:, 0] = False
    per_head = torch.randn(B * HEADS, Q, S, generator=gen)
    return {'none': (None, None), 'padding': (padding, None), 'bool': (None, blocked),
            'float-per-head': (None, per_head), 'padding+bool': (padding, blocked),
            'padding+float': (padding, per_head)}[kind]


@pytest.mark.filterwarnings('ignore:Support for mismatched key_padding_mask')
@pytest.mark.parametrize('kind', ['none', 'padding', 'bool', 'float-per-head', 'padding+bool',
                                  'padding+float'])
def test_equals_torch_multihead_attention(kind):
    ours, ref = build_pair()
    gen = torch.Generator().manual_seed(1)
    query, key, value = (torch.randn(B, n, DIM, generator=gen) for n in (Q, S, S))
    padding, attn_mask = masks(kind)
    out = ours(query, key, value, key_padding_mask=padding, attn_mask=attn_mask)
    expected, _ = ref(query, key, value, key_padding_mask=padding, attn_mask=attn_mask,
                      need_weights=False)
    assert out.shape == (B, Q, DIM)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_fully_masked_keys_give_finite_output_and_gradients():
    ours, _ = build_pair()
    query, key = torch.randn(B, Q, DIM, requires_grad=True), torch.randn(B, S, DIM)
    padding = torch.zeros(B, S, dtype=torch.bool)
    padding[0] = True  # image 0: every key is padding
    blocked = torch.zeros(Q, S, dtype=torch.bool)
    blocked[2] = True  # query 2: every key is blocked
    out = ours(query, key, key, key_padding_mask=padding, attn_mask=blocked)
    assert out.isfinite().all()
    # image 0 averages its values (what the finite mask gives; SDPA's -inf would give zeros)
    w_v, b_v = ours.in_proj_weight[2 * DIM:], ours.in_proj_bias[2 * DIM:]
    mean_value = torch.nn.functional.linear(key[0], w_v, b_v).mean(0)  # (C,)
    torch.testing.assert_close(out[0], ours.out_proj(mean_value).expand(Q, DIM), atol=1e-5,
                               rtol=1e-5)
    out.sum().backward()
    assert query.grad.isfinite().all()
    # the other rows still follow torch
    _, ref = build_pair()
    expected, _ = ref(query, key, key, key_padding_mask=padding, attn_mask=blocked,
                      need_weights=False)
    keep = torch.ones(B, Q, dtype=torch.bool)
    keep[0], keep[:, 2] = False, False
    torch.testing.assert_close(out[keep], expected[keep], atol=1e-5, rtol=1e-5)


def test_dropout_only_in_training():
    m = MODELS.build(dict(type='MultiheadAttention', embed_dims=DIM, num_heads=HEADS,
                          dropout=0.5))
    x = torch.randn(B, Q, DIM)
    m.eval()
    torch.testing.assert_close(m(x, x, x), m(x, x, x))
    m.train()
    assert not torch.allclose(m(x, x, x), m.eval()(x, x, x))


def test_bad_masks_and_sizes_raise():
    ours, _ = build_pair()
    x = torch.randn(B, Q, DIM)
    with pytest.raises(ValueError, match='attn_mask must be'):
        ours(x, x, x, attn_mask=torch.zeros(Q, Q + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match='key_padding_mask must be'):
        ours(x, x, x, key_padding_mask=torch.zeros(B, Q))
    with pytest.raises(ValueError, match='not divisible'):
        MultiheadAttention(30, 4)

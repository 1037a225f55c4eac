"""MultiScaleDeformableAttention against HF's DeformableDetrMultiscaleDeformableAttention.

The HF module is built from a small DeformableDetrConfig with its own random weights; its state
dict loads strictly into ours, and outputs (fp32, atol = rtol = 1e-5) and parameter gradients
(atol 1e-4, rtol 1e-5: sums over all queries) must agree, for point and box reference points,
with and without a padding mask, on non-square levels.
"""
import math

import pytest
import torch

from vitdense.models.transformers import MultiScaleDeformableAttention
from vitdense.registry import MODELS

transformers = pytest.importorskip('transformers')
from transformers.models.deformable_detr.modeling_deformable_detr import (  # noqa: E402
    DeformableDetrMultiscaleDeformableAttention,
)

DIM, HEADS, POINTS = 32, 4, 3
SHAPES = [(7, 5), (4, 6), (2, 3)]  # non-square, odd


def build_pair() -> tuple[MultiScaleDeformableAttention, torch.nn.Module]:
    cfg = transformers.DeformableDetrConfig(d_model=DIM, num_feature_levels=len(SHAPES),
                                            disable_custom_kernels=True)
    torch.manual_seed(0)
    hf = DeformableDetrMultiscaleDeformableAttention(cfg, num_heads=HEADS, n_points=POINTS)
    ours = MultiScaleDeformableAttention(DIM, HEADS, len(SHAPES), POINTS)
    ours.load_state_dict(hf.state_dict(), strict=True)
    return ours, hf


def make_inputs(coords: int, padded: bool, batch: int = 2, queries: int = 9):
    gen = torch.Generator().manual_seed(1)
    tokens = sum(h * w for h, w in SHAPES)
    query = torch.randn(batch, queries, DIM, generator=gen)
    value = torch.randn(batch, tokens, DIM, generator=gen)
    ref = torch.rand(batch, queries, len(SHAPES), coords, generator=gen)
    if coords == 4:
        ref[..., 2:] = ref[..., 2:] * 0.8 + 0.1  # box sizes in [0.1, 0.9]
    mask = torch.rand(batch, tokens, generator=gen) < 0.3 if padded else None
    return query, ref, value, mask


@pytest.mark.parametrize('coords', [2, 4])
@pytest.mark.parametrize('padded', [False, True])
def test_equals_hf_module(coords, padded):
    ours, hf = build_pair()
    query, ref, value, mask = make_inputs(coords, padded)
    shapes_t = torch.tensor(SHAPES)
    starts = torch.tensor([0, 35, 59])
    out = ours(query, ref, value, shapes_t, starts, key_padding_mask=mask)
    hf_out, _ = hf(hidden_states=query, attention_mask=None if mask is None else ~mask,
                   encoder_hidden_states=value, reference_points=ref, spatial_shapes=shapes_t,
                   spatial_shapes_list=SHAPES, level_start_index=starts)
    assert out.shape == (2, 9, DIM)
    torch.testing.assert_close(out, hf_out, atol=1e-5, rtol=1e-5)
    out.square().sum().backward()
    hf_out.square().sum().backward()
    hf_params = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
        torch.testing.assert_close(p.grad, hf_params[name].grad, atol=1e-4, rtol=1e-5, msg=name)


def test_padding_mask_hides_padded_values():
    ours, _ = build_pair()
    query, ref, value, mask = make_inputs(2, padded=True)
    out = ours(query, ref, value, SHAPES, key_padding_mask=mask)
    changed = value + 100.0 * mask[..., None]  # only padded tokens change
    torch.testing.assert_close(ours(query, ref, changed, SHAPES, key_padding_mask=mask), out)
    assert not torch.allclose(ours(query, ref, changed, SHAPES), out)


def test_init_follows_deformable_detr():
    """Offsets start on a ring: head h points along angle 2 pi h / heads, scaled so the larger
    coordinate is 1, times (point index + 1), the same on every level; attention logits zero."""
    m = MultiScaleDeformableAttention(DIM, num_heads=8, num_levels=2, num_points=3)
    bias = m.sampling_offsets.bias.view(8, 2, 3, 2)
    for h in range(8):
        direction = torch.tensor([math.cos(2 * math.pi * h / 8), math.sin(2 * math.pi * h / 8)])
        direction = direction / direction.abs().max()
        for p in range(3):
            torch.testing.assert_close(bias[h, :, p], (direction * (p + 1)).expand(2, 2))
    assert m.sampling_offsets.weight.abs().sum() == 0
    assert m.attention_weights.weight.abs().sum() == 0 and m.attention_weights.bias.abs().sum() == 0
    assert m.value_proj.bias.abs().sum() == 0 and m.output_proj.bias.abs().sum() == 0


def test_registered_and_checks_inputs():
    m = MODELS.build(dict(type='MultiScaleDeformableAttention', embed_dims=DIM, num_heads=HEADS,
                          num_levels=len(SHAPES), num_points=POINTS))
    query, ref, value, _ = make_inputs(2, padded=False)
    with pytest.raises(ValueError, match='level_start_index'):
        m(query, ref, value, SHAPES, torch.tensor([0, 35, 60]))
    with pytest.raises(ValueError, match='num_levels=3'):
        m(query, ref, value, SHAPES[:2])
    with pytest.raises(ValueError, match='reference_points must be'):
        m(query, ref[..., :1], value, SHAPES)
    with pytest.raises(ValueError, match='not divisible'):
        MultiScaleDeformableAttention(30, num_heads=4)

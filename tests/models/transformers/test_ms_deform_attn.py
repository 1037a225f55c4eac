"""multi_scale_deformable_attn against HF transformers' multi_scale_deformable_attention.

HF's function (the same code as Deformable DETR's ``MultiScaleDeformableAttention`` module) is
the oracle: outputs and the gradients of value, locations and weights must agree within 1e-5 in
fp32, on non-square levels with locations outside [0, 1], with the backward pass taking whole
levels or one head at a time, keeping the samples or sampling again. fp64 gradcheck checks the
custom backward on its own.
"""
from functools import partial

import pytest
import torch
import torch.nn.functional as F

import vitdense.models.utils.ms_deform_attn as msda
from vitdense.models.utils import level_shapes, multi_scale_deformable_attn

modeling = pytest.importorskip('transformers.models.mask2former.modeling_mask2former')
hf_msda = modeling.multi_scale_deformable_attention

SHAPES = [(7, 5), (4, 6), (2, 3)]  # non-square, odd
ATOL = RTOL = 1e-5  # fp32: both sample with grid_sample's bilinear kernel


def make_inputs(shapes=SHAPES, batch=2, queries=11, heads=4, dim=8, points=3, dtype=torch.float32,
                seed=0):
    """value (B, S, heads, dim), locations (B, Q, heads, L, P, 2) in [-0.2, 1.2] (about a third
    outside the maps), weights (B, Q, heads, L, P), all requiring gradients."""
    gen = torch.Generator().manual_seed(seed)
    tokens = sum(h * w for h, w in shapes)
    value = torch.randn(batch, tokens, heads, dim, generator=gen, dtype=dtype)
    locations = torch.rand(batch, queries, heads, len(shapes), points, 2, generator=gen,
                           dtype=dtype) * 1.4 - 0.2
    weights = torch.rand(batch, queries, heads, len(shapes), points, generator=gen, dtype=dtype)
    return [t.requires_grad_() for t in (value, locations, weights)]


def output_and_grads(fn, inputs, shapes=SHAPES):
    out = fn(inputs[0], shapes, inputs[1], inputs[2])
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    return out, torch.autograd.grad(out, inputs, grad_out)


@pytest.mark.parametrize('save_samples', [False, True])
@pytest.mark.parametrize('grad_map_bytes', [msda._GRAD_MAP_BYTES, 1])  # whole levels, 1 head
@pytest.mark.parametrize('as_tensor', [False, True])
def test_equals_hf_with_gradients(save_samples, grad_map_bytes, as_tensor, monkeypatch):
    monkeypatch.setattr(msda, '_GRAD_MAP_BYTES', grad_map_bytes)
    inputs = make_inputs()
    outside = ((inputs[1] < 0) | (inputs[1] > 1)).any(-1).float().mean()
    assert 0.2 < outside < 0.6  # many samples fall partly or wholly outside the maps
    shapes = torch.tensor(SHAPES) if as_tensor else SHAPES
    fn = partial(multi_scale_deformable_attn, save_samples=save_samples)
    out, grads = output_and_grads(fn, inputs, shapes)
    ref, ref_grads = output_and_grads(hf_msda, inputs)
    assert out.shape == (2, 11, 4 * 8)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=RTOL)
    for name, grad, ref_grad in zip(('value', 'locations', 'weights'), grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad, atol=ATOL, rtol=RTOL, msg=name)


def test_only_some_inputs_need_gradients():
    value, locations, weights = make_inputs()
    locations.requires_grad_(False)
    out = multi_scale_deformable_attn(value, SHAPES, locations, weights)
    ref = hf_msda(value, SHAPES, locations, weights)
    g = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, (value, weights), g),
                    torch.autograd.grad(ref, (value, weights), g)):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize('save_samples', [False, True])
def test_gradcheck_fp64(save_samples):
    inputs = make_inputs(shapes=[(3, 4), (2, 2)], batch=2, queries=3, heads=2, dim=3, points=2,
                         dtype=torch.float64)

    def fn(value, locations, weights):
        return multi_scale_deformable_attn(value, [(3, 4), (2, 2)], locations, weights,
                                           save_samples=save_samples)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5)


def test_keeps_samples_only_where_smaller_than_value():
    """Default: samples saved for a decoder (L * P * Q <= S), not for an encoder (Q = S)."""
    shapes = [(8, 8), (4, 4)]  # S = 80
    for queries, kept in ((10, True), (80, False)):  # L * P * Q = 40 / 320 samples per head
        value, locations, weights = make_inputs(shapes, batch=1, queries=queries, points=2)
        out = multi_scale_deformable_attn(value, shapes, locations, weights)
        node = out.grad_fn
        while 'MSDeformAttn' not in node.name():  # back through the output's reshapes
            node = node.next_functions[0][0]
        assert len(node.saved_tensors) == (3 + 2 if kept else 3)  # value, grids, weights


def test_bf16_autocast_samples_in_fp32():
    """Under bf16 autocast, bf16 inputs (as a bf16 value projection gives) must come out as the
    fp32 result of the same values, up to bf16 rounding of the output (2^-8 relative, outputs
    of order 1: atol 2e-2). Sampling in bf16 would lose the coordinates' fractions: a bf16
    grid_sample misses by far more (checked below, so the tolerance can fail)."""
    value, locations, weights = (t.detach().bfloat16() for t in make_inputs(shapes=[(61, 93)]))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = multi_scale_deformable_attn(value, [(61, 93)], locations, weights)
    ref = multi_scale_deformable_attn(value.float(), [(61, 93)], locations.float(),
                                      weights.float())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=0)
    # (B, S, heads, d) -> (B * heads, d, H, W); (B, Q, heads, 1, P, 2) -> (B * heads, Q, P, 2)
    v_map = value.permute(0, 2, 3, 1).reshape(8, 8, 61, 93)
    grid = (2 * locations[:, :, :, 0] - 1).transpose(1, 2).reshape(8, 11, 3, 2)
    bf16 = F.grid_sample(v_map, grid, align_corners=False)
    fp32 = F.grid_sample(v_map.float(), grid.float(), align_corners=False)
    assert (bf16.float() - fp32).abs().max() > 0.1


def test_level_shapes_and_errors():
    assert level_shapes(torch.tensor([[2, 3], [1, 1]])) == [(2, 3), (1, 1)]
    value, locations, weights = make_inputs()
    with pytest.raises(ValueError, match='cover 63 positions but value has S=65'):
        multi_scale_deformable_attn(value, [(7, 5), (4, 6), (2, 2)], locations, weights)
    with pytest.raises(ValueError, match='has 3 levels but spatial_shapes'):
        multi_scale_deformable_attn(value, [(7, 5), (4, 6)], locations, weights)
    with pytest.raises(ValueError, match='attention_weights must be'):
        multi_scale_deformable_attn(value, SHAPES, locations, weights[..., :2])
    with pytest.raises(ValueError, match=r'positive \(H, W\)'):
        level_shapes([(0, 3)])


def test_traced_path_equals_hf_with_gradients(monkeypatch):
    """While a graph is traced (ONNX export) the sampling runs in plain ops instead of the
    custom autograd function: same outputs and gradients as the oracle."""
    monkeypatch.setattr(msda, 'is_tracing', lambda: True)
    monkeypatch.setattr(msda._MSDeformAttnFunction, 'apply', None)  # must not be reached
    inputs = make_inputs()
    out, grads = output_and_grads(multi_scale_deformable_attn, inputs)
    ref, ref_grads = output_and_grads(hf_msda, inputs)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=RTOL)
    for name, grad, ref_grad in zip(('value', 'locations', 'weights'), grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad, atol=ATOL, rtol=RTOL, msg=name)

"""Multi-scale deformable attention sampling in plain torch.

The sampling step of Zhu et al. 2021, "Deformable DETR: Deformable Transformers for End-to-End
Object Detection" (arXiv 2010.04159): every query gathers, for each head, ``P`` bilinear samples
on each of ``L`` feature levels and sums them with its attention weights. Same arguments and
result as HF transformers' ``multi_scale_deformable_attention``, computed differently:

- each (image, level) pair is sampled by one ``grid_sample`` call on a strided view of ``value``
  (no copy of the value maps) with the points as the grid's rows and the queries along its
  width, which keeps the CPU kernel's vector lanes full; each level is weighted and summed at
  once, with no stacked copy of all samples and no weighted copy of that;
- a custom autograd function saves its inputs and, where they take no more memory than
  ``value`` (decoder cross-attention, not encoder self-attention), the samples; otherwise it
  samples again in the backward pass. ``grid_sampler_2d_backward`` gives the value and location
  gradients together, a few heads at a time.

Sampling always runs in float32 (float64 stays float64), also under bf16 autocast: bf16
``grid_sample`` on the CPU drops the fractional part of the coordinates. The result is cast back
to ``value``'s dtype.
"""
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable
from torch.nn import functional as F

from vitdense.models.utils.tracing import is_tracing

SpatialShapes = Sequence[tuple[int, int]] | Tensor

# grid_sampler_2d's enums: interpolation 0 = bilinear, padding 0 = zeros.
_BILINEAR, _ZEROS, _ALIGN_CORNERS = 0, 0, False
# The backward pass takes a level's gradient for as many heads at a time as fit in this many
# bytes: a cache-sized map takes the scattered adds faster than a whole one, and the transient
# is smaller (measured in docs/benchmarks.md).
_GRAD_MAP_BYTES = 2**20


def level_shapes(spatial_shapes: SpatialShapes) -> list[tuple[int, int]]:
    """``(H, W)`` of each level as Python ints, from a list of pairs or an (L, 2) tensor.

    A graph traced with symbolic sizes (ONNX export with a dynamic height and width) must give
    the list of pairs: reading an (L, 2) tensor back with ``.tolist()`` fixes its values."""
    if isinstance(spatial_shapes, Tensor):
        if spatial_shapes.dim() != 2 or spatial_shapes.shape[1] != 2:
            raise ValueError(f'spatial_shapes must be an (L, 2) tensor of (H, W), got shape '
                             f'{tuple(spatial_shapes.shape)}')
        spatial_shapes = spatial_shapes.tolist()
    # Python ints, or symbolic sizes while a graph is traced (int() would fix them).
    shapes = [tuple(n if isinstance(n, torch.SymInt) else int(n) for n in (h, w))
              for h, w in spatial_shapes]
    if not shapes or any(h <= 0 or w <= 0 for h, w in shapes):
        raise ValueError(f'spatial_shapes must be one or more positive (H, W), got {shapes}')
    return shapes


def _check_inputs(value: Tensor, shapes: list[tuple[int, int]], sampling_locations: Tensor,
                  attention_weights: Tensor) -> None:
    if value.dim() != 4:
        raise ValueError(f'value must be (B, S, heads, head_dim), got shape {tuple(value.shape)}')
    if sampling_locations.dim() != 6 or sampling_locations.shape[-1] != 2:
        raise ValueError('sampling_locations must be (B, Q, heads, levels, points, 2), got shape '
                         f'{tuple(sampling_locations.shape)}')
    b, s, heads, _ = value.shape
    if (sampling_locations.shape[0], sampling_locations.shape[2]) != (b, heads):
        raise ValueError(f'sampling_locations {tuple(sampling_locations.shape)} does not match '
                         f'value {tuple(value.shape)} in batch size or heads')
    if sampling_locations.shape[3] != len(shapes):
        raise ValueError(f'sampling_locations has {sampling_locations.shape[3]} levels but '
                         f'spatial_shapes {shapes} has {len(shapes)}')
    if attention_weights.shape != sampling_locations.shape[:-1]:
        raise ValueError(f'attention_weights must be (B, Q, heads, levels, points) = '
                         f'{tuple(sampling_locations.shape[:-1])}, got '
                         f'{tuple(attention_weights.shape)}')
    if sum(h * w for h, w in shapes) != s:
        raise ValueError(f'spatial_shapes {shapes} cover {sum(h * w for h, w in shapes)} '
                         f'positions but value has S={s}')


def _levels(shapes: list[tuple[int, int]]):
    """(level index, start in S, H, W) of each level."""
    start = 0
    for level, (h, w) in enumerate(shapes):
        yield level, start, h, w
        start += h * w


def _level_map(value: Tensor, b: int, start: int, h: int, w: int) -> Tensor:
    """One image's level of ``value`` (B, S, heads, D) as a (heads, D, h, w) strided view."""
    return value[b, start:start + h * w].view(h, w, *value.shape[2:]).permute(2, 3, 0, 1)


def _sample(level_map: Tensor, grid: Tensor) -> Tensor:
    """level_map (heads, D, h, w), grid (heads, P, Q, 2) in [-1, 1] -> (heads, D, P, Q)."""
    return F.grid_sample(level_map, grid, mode='bilinear', padding_mode='zeros',
                         align_corners=_ALIGN_CORNERS)


def _heads_per_call(value: Tensor, positions: int) -> int:
    """How many heads of a level with ``positions`` pixels one backward kernel call takes: as
    many as fit in ``_GRAD_MAP_BYTES``, but at least one per CPU thread (the kernel runs its
    heads in parallel); all of them on a GPU."""
    heads, dim = value.shape[2:]
    if value.device.type != 'cpu':
        return heads
    fit = _GRAD_MAP_BYTES // (dim * positions * value.element_size())
    return min(heads, max(1, fit, torch.get_num_threads()))


def _weighted_samples(value: Tensor, shapes: list[tuple[int, int]], grids: Tensor,
                      weights: Tensor) -> Tensor:
    """The forward of :class:`_MSDeformAttnFunction` in plain differentiable ops, batched over
    images and heads, for graph capture (``torch.export``, ONNX: one ``GridSample`` per level).

    value (B, S, heads, D), grids (B, L, heads, P, Q, 2) in [-1, 1], weights (B, L, heads, P, Q)
    -> (B, heads, D, Q).
    """
    b_size, _, heads, dim = value.shape
    points, queries = grids.shape[3:5]
    out = None
    for level, start, h, w in _levels(shapes):
        # (B, h * w, heads, D) -> (B, heads, D, h, w) -> (B * heads, D, h, w)
        level_map = value[:, start:start + h * w].unflatten(1, (h, w)).permute(0, 3, 4, 1, 2)
        level_map = level_map.reshape(b_size * heads, dim, h, w)
        grid = grids[:, level].reshape(b_size * heads, points, queries, 2)  # (B * heads, P, Q, 2)
        weight = weights[:, level].reshape(b_size * heads, 1, points, queries)
        summed = (_sample(level_map, grid) * weight).sum(2)  # (B * heads, D, Q)
        out = summed if out is None else out + summed
    return out.view(b_size, heads, dim, queries)


class _MSDeformAttnFunction(torch.autograd.Function):
    """Weighted multi-level sampling that saves its inputs, and its samples if asked (else it
    samples again in the backward pass)."""

    @staticmethod
    def forward(ctx: FunctionCtx, value: Tensor, shapes: list[tuple[int, int]], grids: Tensor,
                weights: Tensor, save_samples: bool) -> Tensor:
        """value (B, S, heads, D) contiguous, grids (B, L, heads, P, Q, 2) in [-1, 1],
        weights (B, L, heads, P, Q) -> (B, heads, D, Q)."""
        b_size, _, heads, dim = value.shape
        out = value.new_empty(b_size, heads, dim, grids.shape[4])
        samples = []  # (heads, D, P, Q) per image and level: only the weights' gradient uses them
        keep = save_samples and ctx.needs_input_grad[3]
        for b in range(b_size):
            for level, start, h, w in _levels(shapes):
                sampled = _sample(_level_map(value, b, start, h, w), grids[b, level])
                if keep:
                    samples.append(sampled)
                weight = weights[b, level, :, None]  # (heads, 1, P, Q)
                weighted = sampled * weight if keep else sampled.mul_(weight)
                if level == 0:
                    torch.sum(weighted, dim=2, out=out[b])
                else:
                    out[b] += weighted.sum(2)
        ctx.shapes = shapes
        ctx.save_for_backward(value, grids, weights, *samples)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_out: Tensor
                 ) -> tuple[Tensor | None, None, Tensor | None, Tensor | None, None]:
        """grad_out (B, heads, D, Q) -> gradients of value, shapes (none), grids, weights,
        save_samples (none)."""
        value, grids, weights, *samples = ctx.saved_tensors
        need_value, _, need_grids, need_weights, _ = ctx.needs_input_grad
        grad_out = grad_out.contiguous()  # grid_sampler_2d_backward copies strided gradients
        grad_value = torch.empty_like(value) if need_value else None  # every level is written
        grad_grids = torch.empty_like(grids) if need_grids else None
        grad_weights = torch.empty_like(weights) if need_weights else None
        b_size, _, heads, dim = value.shape
        for b in range(b_size):
            for level, start, h, w in _levels(ctx.shapes):
                level_map = _level_map(value, b, start, h, w)  # (heads, D, h, w)
                # (h * w, heads * D) rows of this image's level in grad_value
                grad_rows = grad_value[b, start:start + h * w].view(h * w, heads * dim) \
                    if need_value else None
                step = _heads_per_call(value, h * w)
                for h0 in range(0, heads, step):
                    hs = slice(h0, h0 + step)
                    grid, grad_level = grids[b, level, hs], grad_out[b, hs, :, None]  # (., D, 1, Q)
                    if need_weights:  # sum over D of samples (heads', D, P, Q) x gradient
                        if samples:
                            product = samples[b * len(ctx.shapes) + level][hs] * grad_level
                        else:
                            product = _sample(level_map[hs], grid).mul_(grad_level)
                        torch.sum(product, dim=1, out=grad_weights[b, level, hs])
                    if not (need_value or need_grids):
                        continue
                    grad_sampled = grad_level * weights[b, level, hs, None]  # (heads', D, P, Q)
                    grad_map, grad_grid = torch.ops.aten.grid_sampler_2d_backward(
                        grad_sampled, level_map[hs], grid, _BILINEAR, _ZEROS, _ALIGN_CORNERS,
                        [need_value, need_grids])
                    if need_value:  # (heads', D, h, w) contiguous -> (h * w, heads' * D)
                        n = grad_map.shape[0] * dim
                        grad_rows[:, h0 * dim:h0 * dim + n].copy_(grad_map.view(n, h * w).t())
                    if need_grids:
                        grad_grids[b, level, hs] = grad_grid
        return grad_value, None, grad_grids, grad_weights, None


def multi_scale_deformable_attn(value: Tensor, spatial_shapes: SpatialShapes,
                                sampling_locations: Tensor, attention_weights: Tensor, *,
                                save_samples: bool | None = None) -> Tensor:
    """Attention-weighted bilinear samples of multi-level value maps.

    Bilinear sampling as ``grid_sample(mode='bilinear', padding_mode='zeros',
    align_corners=False)``: a location is a fraction of its level's width and height, pixel
    centres sit at ``(i + 0.5) / size``, and samples outside the map read zeros.

    Args:
        value: (B, S, heads, head_dim), the levels' maps flattened row-major and concatenated,
            S = sum of H * W.
        spatial_shapes: ``(H, W)`` of each level, a list of pairs or an (L, 2) tensor.
        sampling_locations: (B, Q, heads, L, P, 2) ``(x, y)`` in [0, 1] (outside reads zeros).
        attention_weights: (B, Q, heads, L, P).
        save_samples: keep the (B, heads, head_dim, L * P * Q) samples for the backward pass
            (faster) instead of sampling again (less memory). None: keep them where they take no
            more memory than ``value``, i.e. L * P * Q <= S (a decoder's queries, not an
            encoder's).

    Returns:
        (B, Q, heads * head_dim) in ``value``'s dtype.
    """
    shapes = level_shapes(spatial_shapes)
    _check_inputs(value, shapes, sampling_locations, attention_weights)
    b, _, heads, dim = value.shape
    queries = sampling_locations.shape[1]
    compute_dtype = torch.promote_types(value.dtype, torch.float32)
    with torch.autocast(value.device.type, enabled=False):
        locations = sampling_locations.to(compute_dtype)
        # (B, Q, heads, L, P, 2) -> (B, L, heads, P, Q, 2): queries along the grid's width
        grids = (2 * locations - 1).permute(0, 3, 2, 4, 1, 5).contiguous()
        # (B, Q, heads, L, P) -> (B, L, heads, P, Q)
        weights = attention_weights.to(compute_dtype).permute(0, 3, 2, 4, 1).contiguous()
        if save_samples is None:
            save_samples = grids.shape[1] * grids.shape[3] * queries <= value.shape[1]
        if is_tracing():  # a graph records plain ops, not a Python autograd function
            out = _weighted_samples(value.to(compute_dtype), shapes, grids, weights)
        else:
            out = _MSDeformAttnFunction.apply(value.to(compute_dtype).contiguous(), shapes,
                                              grids, weights, save_samples)  # (B, heads, D, Q)
    # (B, heads, D, Q) -> (B, Q, heads, D) -> (B, Q, heads * D)
    return out.permute(0, 3, 1, 2).reshape(b, queries, heads * dim).to(value.dtype)

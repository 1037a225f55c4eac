"""Patch-grid coordinates and prefix-token handling shared by the attention position encodings.

Pure functions. The coordinate tables depend only on the grid size (never on parameters), so
they are cached per (size, device) for the life of the process.
"""
import torch
from torch.nn import functional as F

from vitdense.models.layers.tracing import size_cache


@size_cache(64)
def grid_coords(h: int, w: int, device: torch.device) -> torch.Tensor:
    """Row-major (y, x) integer coordinates of an h x w grid: (h * w, 2), dtype long."""
    # meshgrid rather than repeat_interleave: ONNX export fixes the repeats at the export size
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                            indexing='ij')  # (h, w) each
    return torch.stack([ys.reshape(-1), xs.reshape(-1)], dim=1)


@size_cache(64)
def grid_offsets(h: int, w: int, device: torch.device) -> torch.Tensor:
    """Offsets p_i - p_j between all pairs of grid tokens: (h * w, h * w, 2) as (dy, dx)."""
    coords = grid_coords(h, w, device)
    return coords[:, None, :] - coords[None, :, :]  # (N, N, 2)


def pad_prefix(bias: torch.Tensor, num_prefix: int) -> torch.Tensor:
    """Zero logit bias for prefix tokens: (..., L, L) -> (..., P + L, P + L)."""
    if not num_prefix:
        return bias
    return F.pad(bias, (num_prefix, 0, num_prefix, 0))


def device_key(t: torch.Tensor) -> str:
    """A hashable name of a tensor's device, for cache keys."""
    return str(t.device)

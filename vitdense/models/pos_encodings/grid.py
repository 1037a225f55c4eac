"""Patch-grid coordinates and prefix-token handling shared by the attention position encodings.

Pure functions. The coordinate tables depend only on the grid size (never on parameters), so
they are cached per (size, device) for the life of the process.
"""
from functools import lru_cache

import torch
from torch.nn import functional as F


@lru_cache(maxsize=64)
def grid_coords(h: int, w: int, device: torch.device) -> torch.Tensor:
    """Row-major (y, x) integer coordinates of an h x w grid: (h * w, 2), dtype long."""
    ys = torch.arange(h, device=device).repeat_interleave(w)  # (h * w,)
    xs = torch.arange(w, device=device).repeat(h)  # (h * w,)
    return torch.stack([ys, xs], dim=1)


@lru_cache(maxsize=64)
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

"""Patch-grid coordinates and prefix-token handling shared by the attention position encodings.

Pure functions. Tables that depend only on the grid size (never on parameters) are cached per
(size, device) with :func:`tensor_cache`, which bounds the bytes each cache holds: a sweep over
many input sizes must not keep an (N, N) index per size for the life of the process.
"""
from collections import OrderedDict, namedtuple
from functools import wraps
from typing import Callable

import torch
from torch.nn import functional as F

from vitdense.models.utils.tracing import is_tracing

CACHE_BYTES = 64 << 20  # per cached function
CacheInfo = namedtuple('CacheInfo', 'hits misses currsize nbytes')


def _nbytes(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    return 0


def tensor_cache(max_bytes: int = CACHE_BYTES) -> Callable:
    """``functools.lru_cache`` for functions returning tensors, bounded by their bytes.

    Least recently used results are dropped while the total exceeds ``max_bytes``; a result
    larger than ``max_bytes`` on its own is returned and not kept. Bypassed while a graph is
    traced (``vitdense.models.utils.tracing``). ``fn.cache_clear()`` and
    ``fn.cache_info()`` (hits, misses, entries, bytes) as for the functools cache.
    """
    def decorate(fn: Callable) -> Callable:
        store: OrderedDict = OrderedDict()
        total, counts = [0], [0, 0]

        @wraps(fn)
        def cached(*args, **kwargs):
            if is_tracing():  # sizes may be symbolic; a traced tensor must not be kept
                return fn(*args, **kwargs)
            key = args + tuple(sorted(kwargs.items()))
            if key in store:
                counts[0] += 1
                store.move_to_end(key)
                return store[key]
            counts[1] += 1
            value = fn(*args, **kwargs)
            size = _nbytes(value)
            if size <= max_bytes:
                store[key] = value
                total[0] += size
                while total[0] > max_bytes:
                    total[0] -= _nbytes(store.popitem(last=False)[1])
            return value

        def cache_clear() -> None:
            store.clear()
            total[0] = 0

        cached.cache_clear = cache_clear
        cached.cache_info = lambda: CacheInfo(counts[0], counts[1], len(store), total[0])
        return cached
    return decorate


@tensor_cache()
def grid_coords(h: int, w: int, device: torch.device) -> torch.Tensor:
    """Row-major (y, x) integer coordinates of an h x w grid: (h * w, 2), dtype long."""
    # meshgrid rather than repeat_interleave: ONNX export fixes the repeats at the export size
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                            indexing='ij')  # (h, w) each
    return torch.stack([ys.reshape(-1), xs.reshape(-1)], dim=1)


def grid_offsets(h: int, w: int, device: torch.device) -> torch.Tensor:
    """Offsets p_i - p_j between all pairs of grid tokens: (h * w, h * w, 2) as (dy, dx).

    Not cached (each caller keeps only the index it derives from it)."""
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

"""Whether a graph is being recorded, for code that must then step aside (size-keyed caches,
Python-side checks on tensor values, custom autograd functions)."""
import functools
from typing import Callable

import torch


def is_tracing() -> bool:
    """True while ``torch.export`` (hence ONNX export), ``torch.compile`` or the TorchScript
    tracer records a graph: sizes may then be symbolic, and a cached tensor or a value read back
    with ``.tolist()`` would enter the graph as a constant."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


def size_cache(maxsize: int) -> Callable[[Callable], Callable]:
    """``functools.lru_cache`` for functions that build tensors from sizes, bypassed while a
    graph is traced: symbolic sizes cannot be hashed, and a tensor made during tracing (a
    FakeTensor) must not be cached and handed to later eager calls. ``cache_info`` and
    ``cache_clear`` are the cache's."""
    def decorate(fn: Callable) -> Callable:
        cached = functools.lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def wrapper(*args):
            return fn(*args) if is_tracing() else cached(*args)

        wrapper.cache_info, wrapper.cache_clear = cached.cache_info, cached.cache_clear
        return wrapper
    return decorate

"""Whether a graph is being recorded, for code that must then step aside (size-keyed caches,
Python-side checks on tensor values, custom autograd functions, Python loops over sizes)."""
import torch


def is_tracing() -> bool:
    """True while ``torch.export`` (hence ONNX export), ``torch.compile`` or the TorchScript
    tracer records a graph: sizes may then be symbolic, and a cached tensor or a value read back
    with ``.tolist()`` would enter the graph as a constant."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()

"""Export a vitdense model to ONNX, and check the graph against PyTorch in onnxruntime.

The graph is :class:`ExportWrapper` (vitdense/deploy/onnx_graph.py) captured by
``torch.export`` (``torch.onnx.export(..., dynamo=True)``, torch's default exporter since 2.9).
The legacy TorchScript exporter (``dynamo=False``) cannot take a symbolic height and width
through the necks' ``LayerNorm2d`` and is not used (docs/deploy.md).
"""
import importlib
import json
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .onnx_graph import ExportWrapper

INPUT_NAME = 'image'
DEPLOY_PACKAGES = ('onnx', 'onnxruntime', 'onnxscript')
# Protobuf caps one ONNX file at 2 GiB; larger models keep their weights in ``<out>.data``.
MAX_INLINE_BYTES = 3 << 29  # 1.5 GiB


def require(package: str):
    """Import an optional deploy dependency, or fail saying how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise ImportError(f'ONNX export needs {package!r}: pip install -e \'.[deploy]\' '
                          f'(installs {", ".join(DEPLOY_PACKAGES)}, all wheels)') from err


def static_size_reasons(model: nn.Module) -> dict[str, str]:
    """Modules of ``model`` whose ONNX graph is valid only at the export size, each with the
    reason (the class attribute ``onnx_static_reason`` of position encodings and layers);
    empty when a dynamic height and width are possible."""
    reasons = {}
    for name, module in model.named_modules():
        reason = getattr(type(module), 'onnx_static_reason', None)
        if reason:
            reasons[f'{name} ({type(module).__name__})'] = reason
    return reasons


def size_divisor(model: nn.Module) -> int:
    """The multiple that the data preprocessor pads heights and widths to."""
    return int(getattr(model.data_preprocessor, 'pad_size_divisor', 1))


def dynamic_shapes(divisor: int, max_side: int = 8192) -> dict:
    """``torch.export`` shapes of the image input: height and width any multiple of
    ``divisor`` up to ``max_side`` (the models pad to that multiple themselves, so multiples
    keep every padding branch out of the graph)."""
    height = torch.export.Dim('height', min=1, max=max_side // divisor)
    width = torch.export.Dim('width', min=1, max=max_side // divisor)
    return {INPUT_NAME: {2: divisor * height, 3: divisor * width}}


def check_export_shape(model: nn.Module, shape: Sequence[int], dynamic: bool) -> None:
    """Raise ValueError, saying what to change, when ``shape`` or ``dynamic`` cannot be
    exported for ``model``."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'--shape takes H W (two positive integers), got {list(shape)}')
    if not dynamic:
        return
    reasons = static_size_reasons(model)
    if reasons:
        lines = '; '.join(f'{k}: {v}' for k, v in reasons.items())
        raise ValueError(f'--dynamic is not possible for this model: {lines}. Export one fixed '
                         'size instead (drop --dynamic; one graph per input size).')
    divisor = size_divisor(model)
    if shape[0] % divisor or shape[1] % divisor:
        raise ValueError(f'--dynamic: the export --shape {shape[0]} {shape[1]} must be a '
                         f'multiple of the data preprocessor\'s pad_size_divisor={divisor} '
                         '(the dynamic graph takes such sizes; pad images bottom/right to it)')
    if min(shape) < 2 * divisor:
        # torch.export fixes every size that is 1 at tracing: the coarsest map must be larger
        raise ValueError(f'--dynamic: trace at a --shape of at least {2 * divisor} each way '
                         f'(twice the pad_size_divisor={divisor}), got {shape[0]} {shape[1]}: '
                         'a map of size 1 at tracing fixes the graph to that size')


def export_onnx(model: nn.Module, out: str, shape: Sequence[int], dynamic: bool = False,
                opset: int = 18, metadata: dict | None = None) -> ExportWrapper:
    """Write ``model``'s graph (:class:`ExportWrapper`) to ``out``.

    Args:
        model: a vitdense Detector or Segmentor; put in eval mode.
        out: path of the .onnx file.
        shape: (H, W) of the example input the graph is traced with.
        dynamic: a symbolic height and width (multiples of :func:`size_divisor`); else the
            graph takes ``shape`` only.
        opset: ONNX opset (>= 16, for GridSample).
        metadata: extra ``metadata_props`` (str -> JSON-serialisable) stored in the file.

    Returns:
        the wrapper that was exported (run it for the PyTorch reference).
    """
    if opset < 16:
        raise ValueError(f'--opset {opset}: the DETR family samples with GridSample, opset 16 or '
                         'later is needed')
    check_export_shape(model, shape, dynamic)
    require('onnxscript')  # torch.onnx.export(dynamo=True) translates with it
    wrapper = ExportWrapper(model.eval()).eval()
    image = torch.rand(1, 3, *shape) * 255
    weights = sum(p.numel() * p.element_size() for p in wrapper.parameters())
    try:
        with torch.no_grad():
            program = torch.onnx.export(
                wrapper, (image, ), dynamo=True, opset_version=opset,
                input_names=[INPUT_NAME], output_names=list(wrapper.output_names),
                dynamic_shapes=dynamic_shapes(size_divisor(model)) if dynamic else None,
                verbose=False)
    except Exception as err:  # torch's message is long; say first what to do
        what = 'with a dynamic height and width ' if dynamic else ''
        hint = (' If torch names a guard that fixes the size ("Constraints violated"), the '
                'model branches on the input size: export a fixed size (drop --dynamic).'
                ) if dynamic else ''
        raise RuntimeError(f'ONNX export of {type(model).__name__} {what}failed: '
                           f'{type(err).__name__}.{hint} torch says: {err}') from err
    # The preprocessor's mean/std are in the order after its BGR -> RGB swap, if it swaps.
    order = 'RGB' if getattr(model.data_preprocessor, '_channel_conversion', True) else 'BGR'
    props = dict(kind=wrapper.kind, input=INPUT_NAME, outputs=list(wrapper.output_names),
                 input_format=f'{order} float32 pixels 0-255, NCHW',
                 mean=wrapper.mean.flatten().tolist(), std=wrapper.std.flatten().tolist(),
                 size_divisor=size_divisor(model), dynamic=dynamic,
                 export_shape=list(shape), **(metadata or {}))
    for key, value in props.items():
        program.model.metadata_props[key] = json.dumps(value)
    program.save(out, external_data=weights > MAX_INLINE_BYTES)
    return wrapper


def onnx_metadata(path: str) -> dict:
    """The ``metadata_props`` that :func:`export_onnx` wrote, decoded from JSON."""
    model = require('onnx').load(path, load_external_data=False)
    return {p.key: json.loads(p.value) for p in model.metadata_props}


def run_onnx(path: str, image: np.ndarray) -> dict[str, np.ndarray]:
    """Run the graph at ``path`` in onnxruntime (CPU) on one (B, 3, H, W) float32 image."""
    session = require('onnxruntime').InferenceSession(path,
                                                      providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {INPUT_NAME: image.astype(np.float32)})))


def compare_with_torch(wrapper: ExportWrapper, path: str,
                       image: torch.Tensor) -> dict[str, float]:
    """Largest absolute difference between onnxruntime's and PyTorch's outputs on ``image``,
    per output (integer outputs: the fraction of elements that differ)."""
    with torch.no_grad():
        expected = dict(zip(wrapper.output_names, wrapper(image)))
    got = run_onnx(path, image.numpy())
    diffs = {}
    for name, ref in expected.items():
        ref = ref.numpy()
        if got[name].shape != ref.shape:
            raise AssertionError(f'ONNX output {name!r} has shape {got[name].shape}, PyTorch '
                                 f'{ref.shape}')
        if np.issubdtype(ref.dtype, np.integer):
            diffs[name] = float(np.mean(got[name] != ref))
        else:
            diffs[name] = float(np.abs(got[name].astype(np.float64) - ref).max(initial=0.0))
    return diffs

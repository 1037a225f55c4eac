"""Deployment: ONNX export of detectors and segmentors (docs/deploy.md)."""
from .onnx_export import (
    check_export_shape,
    compare_with_torch,
    export_onnx,
    onnx_metadata,
    run_onnx,
    size_divisor,
    static_size_reasons,
)
from .onnx_graph import OUTPUTS, ExportWrapper, model_kind

__all__ = ['OUTPUTS', 'ExportWrapper', 'check_export_shape', 'compare_with_torch', 'export_onnx',
           'model_kind', 'onnx_metadata', 'run_onnx', 'size_divisor', 'static_size_reasons']

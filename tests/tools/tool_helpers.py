"""Helpers of the tool tests: the tools loaded as modules (``tool('infer').main(argv)``) and a
PNG check."""
import importlib.util
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {'infer': 'tools/infer.py', 'browse_dataset': 'tools/analysis/browse_dataset.py',
         'analyze_logs': 'tools/analysis/analyze_logs.py',
         'confusion_matrix': 'tools/analysis/confusion_matrix.py',
         'get_flops': 'tools/analysis/get_flops.py', 'benchmark': 'tools/analysis/benchmark.py',
         'print_config': 'tools/misc/print_config.py'}


def tool(name: str):
    """The module of ``tools/...`` called ``name``, freshly imported (its ``main(argv)``)."""
    spec = importlib.util.spec_from_file_location(f'vitdense_tool_{name}', ROOT / TOOLS[name])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_png(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The PNG at ``path``, checked readable, of ``shape`` (H, W) if given, and not blank."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f'{path} is not a readable image'
    if shape is not None:
        assert img.shape[:2] == tuple(shape), f'{path}: {img.shape[:2]} != {shape}'
    assert img.std() > 5, f'{path} is blank'
    return img

"""An optimizer wrapper that trains under autocast on any device (bf16 on CPU)."""
import contextlib

import torch
from mmengine.optim import OptimWrapper

from vitdense.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """Runs forward passes under ``torch.autocast`` in ``dtype``, without loss scaling.

    mmengine's ``AmpOptimWrapper`` refuses CPUs; bf16 has fp32's exponent range and needs no
    gradient scaling, so entering autocast in :meth:`optim_context` is all it takes.

    Args:
        dtype: 'bfloat16' (CPU and GPU) or 'float16' (GPU only; use AmpOptimWrapper there).
        device_type: 'cpu' or 'cuda'; None picks cuda when available.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, accumulative_counts: int = 1,
                 clip_grad: dict | None = None, dtype: str = 'bfloat16',
                 device_type: str | None = None):
        super().__init__(optimizer, accumulative_counts=accumulative_counts, clip_grad=clip_grad)
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f"AutocastOptimWrapper dtype must be 'bfloat16' or 'float16', "
                             f'got {dtype!r}')
        self.cast_dtype = getattr(torch, dtype)
        self.device_type = device_type or ('cuda' if torch.cuda.is_available() else 'cpu')
        if self.device_type == 'cpu' and dtype == 'float16':
            raise ValueError('float16 autocast without loss scaling is unsafe; use bfloat16 on '
                             'CPU.')

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast(self.device_type,
                                                          dtype=self.cast_dtype):
            yield

"""Optimizer wrappers: autocast on any device (bf16 on CPU), clipping of sharded gradients."""
import contextlib

import torch
from mmengine.dist import all_reduce
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


@OPTIM_WRAPPERS.register_module()
class ShardedOptimWrapper(OptimWrapper):
    """An OptimWrapper whose gradient clipping (``clip_grad=dict(max_norm=...)``) sees the whole
    model when each rank holds a shard of it (FSDP with ``FULL_SHARD`` or ``SHARD_GRAD_OP`` and
    ``use_orig_params=True``).

    mmengine's OptimWrapper clips by the norm of the gradients it can see: under FSDP, the
    rank's own shard, so every rank would scale by another factor. Here the squared norms of
    the shards are summed over ranks first (each element lives in exactly one shard), and every
    rank scales by the global factor. Only the 2-norm is supported; with one process this is
    mmengine's clipping.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, accumulative_counts: int = 1,
                 clip_grad: dict | None = None):
        if clip_grad is not None and (clip_grad.get('type', 'norm') != 'norm'
                                      or clip_grad.get('norm_type', 2) != 2):
            raise ValueError(f'ShardedOptimWrapper clips by the 2-norm only, got clip_grad='
                             f'{clip_grad}; drop type/norm_type or use OptimWrapper.')
        super().__init__(optimizer, accumulative_counts=accumulative_counts, clip_grad=clip_grad)

    def _clip_grad(self) -> None:
        grads = [p.grad for group in self.optimizer.param_groups for p in group['params']
                 if p.requires_grad and p.grad is not None]
        squared = torch.zeros((), dtype=torch.float64)
        for grad in grads:
            squared += grad.detach().double().square().sum().cpu()
        all_reduce(squared)  # every rank calls it, with or without gradients of its own
        total = squared.sqrt().item()
        scale = self.clip_grad_kwargs['max_norm'] / (total + 1e-6)
        if scale < 1:
            for grad in grads:
                grad.mul_(scale)
        self.message_hub.update_scalar(f'train/{self.grad_name}', total)

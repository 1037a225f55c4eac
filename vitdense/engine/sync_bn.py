"""SyncBN that also runs on CPU (gloo), for mmengine's ``sync_bn='torch'`` config switch.

torch's ``nn.SyncBatchNorm`` refuses CPU tensors ("SyncBatchNorm expected input tensor to be on
GPU"), so a model with BatchNorm (the hybrid stems, BN decode heads) trained on several CPU
processes would normalise each rank's share of the batch alone: N processes x batch b no longer
train the model that 1 process x batch N·b trains. DDP also refuses any subclass of torch's class
on CPU ("SyncBatchNorm layers only work with GPU modules"). :class:`PortableSyncBatchNorm` is a
BatchNorm written with a differentiable all-reduce instead, which any backend runs;
:func:`convert_sync_batchnorm` uses torch's class where CUDA is available (its fused kernels) and
this one elsewhere.
"""
import torch
import torch.distributed as dist
from torch import Tensor, nn


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks of a group; the gradient of every rank's copy is the sum of the ranks'
    gradients (each rank's loss depends on every rank's input)."""

    @staticmethod
    def forward(ctx, x: Tensor, group) -> Tensor:
        ctx.group = group
        out = x.clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class PortableSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the samples of every rank, on any device and backend (gloo included).

    In training with more than one process, the mean and the (biased) variance are computed over
    every rank's samples in two all-reduces (sums and counts, then the sum of squared deviations
    from the global mean), both differentiable: the gradient of each rank's loss reaches every
    rank's input, as with torch's SyncBatchNorm. Otherwise (one process, or eval) it is plain
    BatchNorm. Inputs (N, C, ...) of any rank >= 2, as torch's SyncBatchNorm.

    Args:
        process_group: the ranks to synchronise over (default: all).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.process_group = process_group

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f'expected an input of at least 2 dims (N, C, ...), got {x.dim()}D')

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, ...) -> same shape."""
        if not self._syncs(x):
            return super().forward(x)
        self._check_input_dim(x)
        in_dtype, x = x.dtype, x.float()  # statistics in fp32, also under bf16 autocast
        dims = [0] + list(range(2, x.dim()))  # every dim but the channels
        shape = [1, -1] + [1] * (x.dim() - 2)  # (C,) -> (1, C, 1, ...)
        count = x.new_full((1, ), x.numel() / x.shape[1])
        # (C + 1,): per-channel sums and this rank's count, summed over ranks.
        sums = _AllReduceSum.apply(torch.cat([x.sum(dims), count]), self._group())
        total = sums[-1]
        mean = sums[:-1] / total  # (C,)
        centred = x - mean.reshape(shape)
        var = _AllReduceSum.apply(centred.square().sum(dims), self._group()) / total
        out = centred * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), total.item())
        return out.to(in_dtype)

    def _syncs(self, x: Tensor) -> bool:
        return (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size(self._group()) > 1)

    def _group(self):
        return self.process_group or dist.group.WORLD

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, total: float) -> None:
        """As ``F.batch_norm``: the running variance is unbiased (n / (n - 1))."""
        self.num_batches_tracked.add_(1)
        momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                    else self.momentum)
        unbiased = var * (total / max(total - 1.0, 1.0))
        self.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
        self.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)


def convert_sync_batchnorm(module: nn.Module, implementation: str = 'torch') -> nn.Module:
    """Every BatchNorm of ``module`` as a SyncBN sharing its parameters and buffers (what
    mmengine's Runner calls for ``cfg.sync_bn``): torch's ``nn.SyncBatchNorm`` where CUDA is
    available, :class:`PortableSyncBatchNorm` elsewhere.

    Args:
        implementation: 'torch' (the only one here: 'mmcv' needs ``mmcv.ops``, which mmcv-lite
            does not build).
    """
    if implementation != 'torch':
        raise ValueError(f"sync_bn={implementation!r} is not available: 'mmcv' needs mmcv.ops, "
                         "which the mmcv-lite build lacks. Set sync_bn='torch' in the config.")
    sync_types = (nn.SyncBatchNorm, PortableSyncBatchNorm)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module,
                                                                             sync_types):
        cls = nn.SyncBatchNorm if torch.cuda.is_available() else PortableSyncBatchNorm
        converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                        module.track_running_stats)
        if module.affine:
            converted.weight, converted.bias = module.weight, module.bias
        if module.track_running_stats:
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        new = convert_sync_batchnorm(child, implementation)
        if new is not child:
            setattr(module, name, new)
    return module

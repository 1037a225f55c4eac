"""PortableSyncBatchNorm on 2 CPU processes (gloo) equals BatchNorm on the whole batch: outputs,
the gradients of the inputs and of the affine parameters, and the running statistics."""
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from ports import free_port
from torch import nn

from vitdense.engine.sync_bn import PortableSyncBatchNorm, convert_sync_batchnorm

SIZES = (3, 2)  # an uneven split of the batch of 5: rank 0 has 3 samples, rank 1 has 2


def batch() -> torch.Tensor:
    return torch.randn(sum(SIZES), 4, 5, 7, generator=torch.Generator().manual_seed(0))


def set_affine(bn: nn.Module) -> None:
    with torch.no_grad():
        bn.weight.copy_(torch.linspace(0.5, 1.5, 4))
        bn.bias.copy_(torch.linspace(-0.5, 0.5, 4))


def reference() -> dict[str, torch.Tensor]:
    """BatchNorm2d on the whole batch; the loss weighs each sample differently."""
    bn = nn.BatchNorm2d(4, momentum=0.3)
    set_affine(bn)
    x = batch().requires_grad_()
    out = bn(x)
    (out * torch.arange(1.0, out.numel() + 1).reshape(out.shape).sin()).sum().backward()
    return dict(out=out.detach(), grad=x.grad, weight=bn.weight.grad, bias=bn.bias.grad,
                mean=bn.running_mean, var=bn.running_var)


def worker(rank: int, port: int, queue) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    bn = convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(4, momentum=0.3)))[0]
    assert isinstance(bn, PortableSyncBatchNorm)
    set_affine(bn)
    start = sum(SIZES[:rank])
    whole = batch()
    x = whole[start:start + SIZES[rank]].clone().requires_grad_()
    out = bn(x)
    weights = torch.arange(1.0, whole.numel() + 1).reshape(whole.shape).sin()
    (out * weights[start:start + SIZES[rank]]).sum().backward()
    for p in (bn.weight, bn.bias):  # DDP sums the parameter gradients over ranks (mean x 2)
        dist.all_reduce(p.grad)
    found = dict(out=out, grad=x.grad, weight=bn.weight.grad, bias=bn.bias.grad,
                 mean=bn.running_mean, var=bn.running_var)
    # numpy copies: a tensor would travel as shared memory, gone when this process exits
    queue.put((rank, {k: v.detach().numpy().copy() for k, v in found.items()}))
    dist.destroy_process_group()


def test_two_processes_normalise_as_one_batch():
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=worker, args=(rank, port, queue)) for rank in (0, 1)]
    for p in procs:
        p.start()
    results = {rank: {k: torch.from_numpy(v) for k, v in found.items()}
               for rank, found in (queue.get(timeout=120) for _ in procs)}
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    ref = reference()
    for key in ('out', 'grad'):
        torch.testing.assert_close(torch.cat([results[0][key], results[1][key]]), ref[key],
                                   atol=1e-5, rtol=1e-5)
    for key in ('weight', 'bias', 'mean', 'var'):
        for rank in (0, 1):
            torch.testing.assert_close(results[rank][key], ref[key], atol=1e-5, rtol=1e-5)


def test_one_process_is_plain_batchnorm():
    bn = nn.BatchNorm1d(3)
    sync = convert_sync_batchnorm(nn.Sequential(bn))[0]
    assert isinstance(sync, PortableSyncBatchNorm) and sync.weight is bn.weight
    x = torch.randn(6, 3, 4)
    torch.testing.assert_close(sync(x), nn.BatchNorm1d(3)(x))


def test_mmcv_sync_bn_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="sync_bn='torch'"):
        convert_sync_batchnorm(nn.BatchNorm2d(2), 'mmcv')

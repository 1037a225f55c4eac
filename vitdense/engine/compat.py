"""Compat layer: mmengine 0.10.7 on torch >= 2.6 and on machines without CUDA.

What it fixes (details in REFERENCE.md, "mmengine 0.10.7 on torch 2.13"):

1. Checkpoints. torch >= 2.6 loads with ``weights_only=True`` and mmengine's checkpoints pickle
   ``HistoryBuffer`` through bound methods (``getattr``), which the safe unpickler refuses. We make
   ``HistoryBuffer`` pickle as plain lists, allow-list it and numpy's array and scalar
   reconstructors, and keep ``weights_only=True`` for every load. Nothing is ever unpickled with
   ``weights_only=False`` unless the user sets ``VITDENSE_TRUST_CHECKPOINTS=1`` for a checkpoint
   written by another mmengine toolkit that they trust.
2. Distributed training on CPU: gloo process group, ``device_ids=None`` (see
   :func:`setup_distributed`).
3. bf16 autocast on CPU: :class:`vitdense.engine.optim_wrapper.AutocastOptimWrapper`.
4. ``sync_bn='torch'`` on CPU: torch's SyncBatchNorm refuses CPU tensors; the Runner (and
   FlexibleRunner's strategies) convert to :class:`vitdense.engine.sync_bn.SyncBatchNorm`
   instead, torch's class with a CPU path.
5. Test metrics under several processes: ``LoggerHook.after_test_epoch`` dumps them to
   ``<log_dir>/<timestamp>.json`` on every rank, and the ranks share the log dir (the timestamp
   is broadcast). Two ranks writing one file at once can interleave (seen here: two records run
   together on one line, unreadable as JSON Lines). Only rank 0 writes it now.
6. ``compile=`` from config: mmengine compiles ``train_step`` with the optimizer step in it, which
   dynamo fails on; :mod:`vitdense.engine.compile` compiles the network's parts instead.
"""
import copyreg
import os
import re

import numpy as np
import torch
import torch.distributed as dist
from mmengine._strategy import distributed as mmengine_strategy
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.fileio import dump
from mmengine.hooks import logger_hook
from mmengine.logging import HistoryBuffer
from mmengine.runner import runner as mmengine_runner
from mmengine.runner.checkpoint import CheckpointLoader

from .compile import maybe_compile
from .sync_bn import convert_sync_batchnorm

TRUST_ENV = 'VITDENSE_TRUST_CHECKPOINTS'
_APPLIED = False


def _reduce_history_buffer(buf: HistoryBuffer):
    logs = [float(v) for v in buf._log_history]
    counts = [int(v) for v in buf._count_history]
    return HistoryBuffer, (logs, counts, buf.max_length)


def _safe_globals() -> list:
    core = getattr(np, '_core', None) or np.core
    globs = [HistoryBuffer, core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray,
             np.dtype]
    globs += [type(np.dtype(name)) for name in
              ('float64', 'float32', 'float16', 'int64', 'int32', 'uint8', 'bool')]
    return globs


def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint with ``weights_only=True`` (see module docstring)."""
    path = os.path.expanduser(filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'Checkpoint {path!r} does not exist. Check --resume/load_from.')
    if os.environ.get(TRUST_ENV) == '1':
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError or RuntimeError here
        raise RuntimeError(
            f'Could not load {path!r} with weights_only=True ({err}). If this checkpoint comes '
            f'from a source you trust (e.g. another mmengine toolkit), set {TRUST_ENV}=1 to '
            f'load it with full unpickling.') from err


def dump_on_rank_0(obj, file=None, **kwargs):
    """mmengine's ``dump`` on rank 0 only; the other ranks write nothing (see fix 5)."""
    if is_main_process():
        return dump(obj, file, **kwargs)
    return None


def apply_compat() -> None:
    """Install the checkpoint fixes once per process (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals(_safe_globals())
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_local_checkpoint)
    mmengine_runner.convert_sync_batchnorm = convert_sync_batchnorm
    mmengine_strategy.convert_sync_batchnorm = convert_sync_batchnorm
    logger_hook.dump = dump_on_rank_0
    mmengine_runner.Runner._maybe_compile = maybe_compile
    _APPLIED = True


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Prepare ``cfg`` for ``launcher`` on this machine.

    On a machine without CUDA, mmengine's pytorch launcher calls ``torch.cuda.set_device`` and
    wraps the model with ``device_ids=[rank]``; both fail. We initialise a gloo process group
    first (mmengine then skips its own init) and wrap with ``device_ids=None``. A FlexibleRunner
    config (``strategy``) gets the same wrapper under DDPStrategy, and under FSDPStrategy
    :class:`vitdense.engine.fsdp.PortableFSDP`, which keeps the model on the CPU.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.get('env_cfg') or {}
    cfg.env_cfg = dict(env_cfg, dist_cfg=dict(env_cfg.get('dist_cfg') or {}, backend='gloo'))
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper.update(broadcast_buffers=False, device_ids=None)
    # The Runner reads cfg.find_unused_parameters only when it builds the wrapper config itself.
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if cfg.get('strategy') is not None:
        _strategy_on_cpu(cfg.strategy)
    if launcher == 'slurm':
        _slurm_env_to_torchrun_env()
    elif launcher == 'mpi':
        _mpi_env_to_torchrun_env()
    if not dist.is_initialized():
        dist.init_process_group('gloo')


def _strategy_on_cpu(strategy: dict) -> None:
    """FlexibleRunner's strategies on a machine without CUDA (see :func:`setup_distributed`)."""
    wrapper = strategy.get('model_wrapper') or {}
    if strategy['type'] == 'FSDPStrategy':
        if wrapper.get('type', 'MMFullyShardedDataParallel') == 'MMFullyShardedDataParallel':
            wrapper['type'] = 'PortableFSDP'
    elif strategy['type'] == 'DDPStrategy':
        wrapper.setdefault('type', 'MMDistributedDataParallel')
        wrapper.update(broadcast_buffers=False, device_ids=None)
    strategy['model_wrapper'] = wrapper


def _slurm_env_to_torchrun_env() -> None:
    """Translate SLURM's variables to the ones ``init_process_group`` reads from the env."""
    os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
    os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
    os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = first_slurm_host(os.environ.get('SLURM_NODELIST',
                                                                    '127.0.0.1'))


def first_slurm_host(nodelist: str) -> str:
    """The first host of a SLURM node list: 'gpu[03-05,09],cpu1' -> 'gpu03' (what
    ``scontrol show hostnames`` prints first)."""
    match = re.match(r'([^,\[]+)(?:\[([^\]]+)\])?', nodelist.strip())
    if match is None:
        raise ValueError(f'Cannot read the first host of SLURM_NODELIST={nodelist!r}; set '
                         'MASTER_ADDR to it.')
    prefix, ranges = match.groups()
    return prefix + (ranges.split(',')[0].split('-')[0] if ranges else '')


def _mpi_env_to_torchrun_env() -> None:
    """Translate Open MPI's variables (``mpirun``) to the ones ``init_process_group`` reads."""
    os.environ.setdefault('RANK', os.environ['OMPI_COMM_WORLD_RANK'])
    os.environ.setdefault('WORLD_SIZE', os.environ['OMPI_COMM_WORLD_SIZE'])
    os.environ.setdefault('LOCAL_RANK', os.environ.get('OMPI_COMM_WORLD_LOCAL_RANK', '0'))
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        raise KeyError('--launcher mpi needs MASTER_ADDR in the environment (the first host '
                       "of the job, e.g. mpirun -x MASTER_ADDR=node0 ...).")

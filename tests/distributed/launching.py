"""Helpers of the multi-process tests: the tiny detector config they train, free ports, and the
launch scripts run the way a user runs them (one thread a process)."""
import os
import os.path as osp
import stat
import subprocess
import sys

import torch
from mmengine.config import Config

from vitdense.apis.demo import demo_job
from vitdense.engine.compat import load_local_checkpoint
from vitdense.utils import register_all_modules

NUM_VAL = 5  # odd: 2 processes pad it to 6 with a duplicate, which the metric must drop
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Stands in for srun on one machine: records its arguments in $FAKE_SRUN_LOG, then (unless
# FAKE_SRUN_DRY=1) starts --ntasks copies of the command with the variables srun sets (all tasks
# on one node, so SLURM_LOCALID = SLURM_PROCID).
FAKE_SRUN = r'''#!/usr/bin/env bash
echo "$*" > "$FAKE_SRUN_LOG"
[ "$FAKE_SRUN_DRY" = 1 ] && exit 0
ntasks=1
while [ $# -gt 0 ] && [ "$1" != python ]; do
    case "$1" in --ntasks=*) ntasks=${1#--ntasks=} ;; -p) shift ;; esac
    shift
done
pids=()
for ((i = 0; i < ntasks; i++)); do
    SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks SLURM_NODELIST=localhost "$@" &
    pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit $rc
'''


def tiny_detector_config(path: str, data_root: str, optimizer: str = 'sgd') -> str:
    """Write the demo detector (FCOS on the hybrid ViT, whose stem has BatchNorm), shrunk for the
    equivalence tests, to ``path``; returns ``path``. Its validation (at the last iteration)
    dumps the predictions to the file ``val_evaluator.1.out_file_path`` names.

    Every choice removes a difference between 1 process x batch 2b and 2 processes x batch b
    that is not the one under test:
    - images resized to 96 x 96 with no random transform: a random transform draws from each
      process's own random stream, and equal sizes mean equal padding on every rank;
    - InfiniteSampler: one seeded permutation stream that the ranks read in turn, so each step's
      global batch holds the same samples whatever the number of processes (DefaultSampler
      does too within an epoch, but pads its last batch differently);
    - ``sync_bn='torch'``: the stem's BatchNorm normalises over the global batch;
    - NCHW batches (the demo's are channels-last): oneDNN's channels-last convolutions sum in
      an order that depends on the batch size, and moved the weights of 1 x 2 and 2 x 1 apart
      by 2.5e-5 in 4 steps, over the 1e-5 the tests allow for the differences under test;
    - ``optimizer='sgd'``: an update is linear in the gradient, so the weights compare the
      gradients (Adam divides by |g|, turning float rounding of near-zero gradients into
      lr-sized steps); 'demo' keeps the demo's AdamW, at a constant rate.
    """
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, demo_job('detector').config))
    cfg.model.backbone.update(arch='test', img_size=(96, 96), init_cfg=None)
    cfg.model.bbox_head.score_thr = 0.0  # an untrained head's detections, to compare
    cfg.sync_bn = 'torch'
    cfg.model.data_preprocessor.channels_last = False
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(96, 96), keep_ratio=False),
        dict(type='PackDetInputs'),
    ]
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[split]
        loader.update(num_workers=0, persistent_workers=False, batch_size=1)
        loader.dataset.update(data_root=data_root, pipeline=pipeline)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True, seed=0)
    cfg.test_evaluator.ann_file = data_root + 'annotations/instances_val.json'
    # Validation at the last iteration also dumps its predictions (to compare 1 and 2 processes).
    cfg.val_evaluator = [cfg.test_evaluator,
                         dict(type='DumpResults', out_file_path=osp.dirname(path) + '/val.pkl')]
    if optimizer == 'sgd':
        cfg.optim_wrapper = dict(type='OptimWrapper',
                                 optimizer=dict(type='SGD', lr=0.01, momentum=0.9),
                                 clip_grad=dict(max_norm=1.0, norm_type=2))
    cfg.param_scheduler = []
    cfg.train_cfg.update(max_iters=4, val_interval=1000)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=2, max_keep_ckpts=-1)
    cfg.dump(path)
    return path


def fsdp_config(path: str, data_root: str, fsdp: bool) -> str:
    """The tiny detector config on mmengine's FlexibleRunner: with ``fsdp``, the strategy the
    ViT-L/H configs ship (``configs/_base_/strategies/fsdp_vit.py``: one FSDP unit and
    activation checkpointing per ViT block, SyncBN, a full state dict in the checkpoints) and
    clipping by the global gradient norm; without, the single-process reference (the
    FlexibleRunner draws the initial weights in another order than the Runner, so FSDP is
    compared with a FlexibleRunner run)."""
    tiny_detector_config(path, data_root)
    cfg = Config.fromfile(path)
    cfg.runner_type = 'FlexibleRunner'
    if fsdp:
        shipped = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'strategies',
                                           'fsdp_vit.py'))
        assert shipped.runner_type == 'FlexibleRunner'
        cfg.strategy = shipped.strategy
        cfg.optim_wrapper.type = 'ShardedOptimWrapper'
    cfg.dump(path)
    return path


def tool_env(bin_dir: str | None = None, **extra: str) -> dict:
    """The environment a launched tool runs in: this checkout first on PYTHONPATH, ``bin_dir``
    and the venv's torchrun and python first on PATH, one thread per process."""
    dirs = ([bin_dir] if bin_dir else []) + [osp.dirname(sys.executable),
                                             os.environ.get('PATH', '')]
    return dict(os.environ, PYTHONPATH=ROOT, PATH=os.pathsep.join(dirs), OMP_NUM_THREADS='1',
                **extra)


def start(cmd: list[str], bin_dir: str | None = None, **env: str) -> subprocess.Popen:
    """Start ``cmd`` in the checkout's root (see :func:`tool_env`), its output captured."""
    return subprocess.Popen(cmd, cwd=ROOT, env=tool_env(bin_dir, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(*procs: subprocess.Popen, timeout: float = 300) -> None:
    """Wait for every process; fail with the output of the first that failed."""
    outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, f'{proc.args} exited with {proc.returncode}:\n{out[-4000:]}'


def weights(checkpoint: str) -> dict[str, torch.Tensor]:
    """The model's parameters and buffers in a checkpoint (float tensors)."""
    register_all_modules()  # the compat layer's safe loading of the toolkit's checkpoints
    state = load_local_checkpoint(checkpoint, map_location='cpu')['state_dict']
    return {k: v.float() for k, v in state.items() if v.is_floating_point()}


def fake_srun_dir(tmp_path) -> str:
    """A folder holding the stand-in ``srun`` (put it first on PATH)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN)
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    return str(bin_dir)

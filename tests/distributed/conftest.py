"""Fixtures of the multi-process tests: the runs they compare, each started once per session.

- ``one_process``: tools/train.py, 1 process x batch 2, 4 iterations (checkpoints at 2 and 4),
  validation at 4;
- ``two_nodes``: tools/dist_train.sh on two "nodes" (NNODES=2) of 1 process x batch 1,
  2 iterations, validation at 2;
- ``resumed_on_slurm``: tools/slurm_train.sh, 2 tasks x batch 1 on a stand-in for srun, resuming
  ``two_nodes``' work dir to 4 iterations, validation at 4.
Each validation dumps its predictions (``val.pkl`` next to the work dir).
"""
import os.path as osp
from dataclasses import dataclass

import pytest
from launching import NUM_VAL, fake_srun_dir, finish, start, tiny_detector_config
from ports import free_port

from vitdense.datasets.shapes import generate_shapes


@dataclass(frozen=True)
class Run:
    """A finished training: its work dir, the predictions its last validation dumped, and (for
    slurm) the arguments srun got."""

    work_dir: str
    val_predictions: str
    srun_args: str = ''


def dump_option(path: str) -> str:
    return f'val_evaluator.1.out_file_path={path}'


@pytest.fixture(scope='session')
def dist_shapes(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('dist_shapes')
    generate_shapes(str(root), seed=5, num_train=8, num_val=NUM_VAL)
    return str(root) + '/'


@pytest.fixture(scope='session')
def config(tmp_path_factory, dist_shapes) -> str:
    """The tiny detector config (launching.tiny_detector_config) on the tiny shapes."""
    return tiny_detector_config(str(tmp_path_factory.mktemp('cfg') / 'tiny_fcos.py'), dist_shapes)


@pytest.fixture(scope='session')
def one_process(config, tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp('one')
    run = Run(str(tmp / 'work'), str(tmp / 'val.pkl'))
    finish(start(['python', 'tools/train.py', config, '--work-dir', run.work_dir,
                  '--cfg-options', 'train_dataloader.batch_size=2',
                  dump_option(run.val_predictions)]))
    return run


@pytest.fixture(scope='session')
def two_nodes(config, tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp('two')
    run = Run(str(tmp / 'work'), str(tmp / 'val.pkl'))
    port = str(free_port())
    cmd = ['tools/dist_train.sh', config, '1', '--work-dir', run.work_dir,
           '--cfg-options', 'train_dataloader.batch_size=1', 'train_cfg.max_iters=2',
           dump_option(run.val_predictions)]
    finish(*[start(cmd, NNODES='2', NODE_RANK=str(rank), MASTER_ADDR='127.0.0.1', PORT=port)
             for rank in (0, 1)])
    return run


@pytest.fixture(scope='session')
def resumed_on_slurm(two_nodes, config, tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp('slurm')
    log, predictions = str(tmp / 'srun_args'), str(tmp / 'val.pkl')
    cmd = ['tools/slurm_train.sh', 'dev', 'tiny-fcos', config, two_nodes.work_dir, '--resume',
           '--cfg-options', 'train_dataloader.batch_size=1', dump_option(predictions)]
    finish(start(cmd, bin_dir=fake_srun_dir(tmp), FAKE_SRUN_LOG=log, GPUS='2',
                 GPUS_PER_NODE='2', SRUN_ARGS='--quotatype=auto', PORT=str(free_port())))
    with open(log) as f:
        return Run(two_nodes.work_dir, predictions, f.read())


@pytest.fixture(scope='session')
def checkpoint(one_process) -> str:
    """The 1-process run's last checkpoint."""
    return osp.join(one_process.work_dir, 'iter_4.pth')

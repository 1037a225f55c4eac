"""The compat layer's launch plumbing on a machine without CUDA: slurm and mpi variables, the
model wrappers it configures (DDP, FlexibleRunner strategies), find_unused_parameters."""
import os

import pytest
from mmengine.config import Config

from vitdense.engine import compat
from vitdense.engine.compat import first_slurm_host


@pytest.mark.parametrize('nodelist, host', [
    ('gpu[03-05,09],cpu1', 'gpu03'), ('node1,node2', 'node1'), ('localhost', 'localhost'),
    ('a[7]', 'a7'), ('rack1-n[10-12]', 'rack1-n10')])
def test_first_slurm_host(nodelist, host):
    assert first_slurm_host(nodelist) == host


def test_mpi_variables_become_torchrun_variables(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        # set, then removed: monkeypatch records a variable only when it exists, and the ones
        # the translation sets must not outlive the test (a later launch would inherit RANK=3)
        monkeypatch.setenv(key, '')
        monkeypatch.delenv(key)
    monkeypatch.setenv('OMPI_COMM_WORLD_RANK', '3')
    monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '4')
    monkeypatch.setenv('OMPI_COMM_WORLD_LOCAL_RANK', '1')
    with pytest.raises(KeyError, match='MASTER_ADDR'):
        compat._mpi_env_to_torchrun_env()
    monkeypatch.setenv('MASTER_ADDR', 'node0')
    compat._mpi_env_to_torchrun_env()
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == (
        '3', '4', '1')


@pytest.fixture
def no_process_group(monkeypatch):
    """setup_distributed as on a CPU machine, without starting a process group."""
    monkeypatch.setattr(compat.torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(compat.dist, 'is_initialized', lambda: True)


def test_ddp_wrapper_on_cpu_keeps_find_unused_parameters(no_process_group):
    cfg = Config(dict(find_unused_parameters=True))
    compat.setup_distributed(cfg, 'pytorch')
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', device_ids=None,
                                         broadcast_buffers=False, find_unused_parameters=True)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_flexible_runner_strategies_on_cpu(no_process_group):
    fsdp = Config(dict(strategy=dict(type='FSDPStrategy')))
    compat.setup_distributed(fsdp, 'pytorch')
    assert fsdp.strategy.model_wrapper == dict(type='PortableFSDP')
    own = Config(dict(strategy=dict(type='FSDPStrategy',
                                    model_wrapper=dict(type='PortableFSDP', sync_bn='torch'))))
    compat.setup_distributed(own, 'pytorch')
    assert own.strategy.model_wrapper == dict(type='PortableFSDP', sync_bn='torch')
    ddp = Config(dict(strategy=dict(type='DDPStrategy')))
    compat.setup_distributed(ddp, 'pytorch')
    assert ddp.strategy.model_wrapper == dict(type='MMDistributedDataParallel', device_ids=None,
                                              broadcast_buffers=False)


def test_only_rank_0_writes_the_test_metrics_json(tmp_path, monkeypatch):
    """LoggerHook.after_test_epoch dumps <timestamp>.json on every rank into one shared file;
    two writers interleaved it (two records on one line). The compat layer lets rank 0 alone."""
    from mmengine.hooks import logger_hook
    compat.apply_compat()
    assert logger_hook.dump is compat.dump_on_rank_0
    path = tmp_path / 'stamp.json'
    monkeypatch.setattr(compat, 'is_main_process', lambda: False)
    logger_hook.dump({'mIoU': 1.0}, str(path))
    assert not path.exists()
    monkeypatch.setattr(compat, 'is_main_process', lambda: True)
    logger_hook.dump({'mIoU': 1.0}, str(path))
    assert path.read_text().strip() == '{"mIoU": 1.0}'

"""Atomic writes and the checkpoint hook built on them: a save that fails half-way (a full disk)
leaves the previous checkpoint and last_checkpoint intact; an unwritable work dir or too little
free space fails before the first iteration, with a message that says what to do."""
import errno
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from reliability_helpers import CONFIG, ToyModel

import vitdense.engine.atomic_io as atomic_io
import vitdense.engine.checkpoint_hook as checkpoint_hook
from vitdense.apis import prepare_train_cfg
from vitdense.engine import AtomicCheckpointHook, atomic_write
from vitdense.engine.compat import load_local_checkpoint
from vitdense.registry import HOOKS
from vitdense.utils.work_dir import check_work_dir_writable


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / 'f.bin'
    atomic_write(path, b'old')
    monkeypatch.setattr(atomic_io.os, 'fsync', disk_full)
    with pytest.raises(OSError, match=r"Could not write '.*f\.bin' \(No space left on device\); "
                                      'its previous content is intact'):
        atomic_write(path, b'new content')
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['f.bin']


def test_checkpoint_hook_is_the_atomic_one_under_the_vitdense_scope():
    for registry in (HOOKS, MMENGINE_HOOKS):  # mmengine's Runner builds from its own root
        with __import__('mmengine').registry.DefaultScope.overwrite_default_scope('vitdense'):
            assert isinstance(registry.build(dict(type='CheckpointHook')), AtomicCheckpointHook)


def ckpt_hooks(**kwargs) -> dict:
    return dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False, **kwargs))


@pytest.mark.parametrize('max_keep', [-1, 1])
def test_a_save_failing_on_a_full_disk_keeps_the_last_checkpoint_and_pointer(
        make_runner, tmp_path, monkeypatch, max_keep):
    """mmengine's hook deletes the oldest checkpoint (max_keep_ckpts) before writing the new
    one; ours deletes it only once the new one is complete."""
    work = tmp_path / 'work'
    make_runner(ToyModel(), max_iters=2, default_hooks=ckpt_hooks(max_keep_ckpts=max_keep)).train()
    saved = load_local_checkpoint(str(work / 'iter_2.pth'))
    monkeypatch.setattr(atomic_io.os, 'fsync', disk_full)
    runner = make_runner(ToyModel(), max_iters=4, resume=True,
                         default_hooks=ckpt_hooks(max_keep_ckpts=max_keep))
    with pytest.raises(OSError, match=r"Could not write '.*iter_4\.pth' \(No space left"):
        runner.train()
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    again = load_local_checkpoint(str(work / 'iter_2.pth'))
    assert all(torch.equal(again['state_dict'][k], v) for k, v in saved['state_dict'].items())
    assert not glob.glob(str(work / '.*.tmp')) and not (work / 'iter_4.pth').exists()


def test_too_little_free_space_fails_before_the_first_iteration(make_runner, monkeypatch):
    class Usage:
        free = 10

    monkeypatch.setattr(checkpoint_hook.shutil, 'disk_usage', lambda folder: Usage)
    runner = make_runner(ToyModel(), max_iters=2, default_hooks=ckpt_hooks())
    with pytest.raises(OSError, match=r"checkpoint folder '.*work' has 0\.0 MiB free; saving "
                                      'this model needs about'):
        runner.train()
    assert runner.iter == 0


def test_work_dir_under_a_file_is_refused_before_training(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    work = str(blocker / 'work')
    with pytest.raises(OSError, match=f"Work dir '{work}' is not writable .*--work-dir"):
        prepare_train_cfg(CONFIG, work)


def test_work_dir_on_a_full_disk_is_refused_before_training(tmp_path, monkeypatch):
    import vitdense.utils.work_dir as work_dir
    monkeypatch.setattr(work_dir.os, 'fsync', disk_full)
    with pytest.raises(OSError, match=r'is not writable \(the disk is full\)'):
        check_work_dir_writable(str(tmp_path / 'w'))
    assert os.listdir(tmp_path / 'w') == []  # the probe is gone


def test_a_killed_runs_temporaries_are_removed_at_the_next_start(make_runner, tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    stale = work / '.iter_2.pth.12345.tmp'
    stale.write_bytes(b'partial')
    make_runner(ToyModel(), max_iters=2, default_hooks=ckpt_hooks()).train()
    assert not stale.exists() and osp.isfile(work / 'iter_2.pth')

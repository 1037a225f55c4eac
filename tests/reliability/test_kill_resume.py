"""Real tools/train.py processes killed with SIGKILL (before the first checkpoint, between two,
inside a save, mid-epoch with augmentation randomness, with 2 loader workers), then resumed with
``--resume``: the final weights and validation metrics are bit-identical to an uninterrupted run.

The runs are a tiny deterministic FCOS (ViT 'test' arch, 96 px, 8 training images, batch 2: an
epoch is 4 iterations; RandomResize, RandomCrop, RandomFlip draw from numpy's RNG), 8 iterations,
a checkpoint every 2, one thread, deterministic algorithms.
"""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from reliability_helpers import CONFIG, ITERS
from reliability_helpers import tiny_fcos_options as options

from vitdense.datasets.shapes import generate_shapes
from vitdense.engine.atomic_io import PAUSE_ENV
from vitdense.engine.compat import load_local_checkpoint
from vitdense.utils import register_all_modules

register_all_modules()

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), seed=5, num_train=8, num_val=3)
    return str(root) + '/'


def env(**extra: str) -> dict:
    return dict(os.environ, PYTHONPATH=f'{ROOT}{os.pathsep}{HERE}', OMP_NUM_THREADS='1',
                MKL_NUM_THREADS='1', **extra)


def train(work: str, opts: list[str], *extra: str, config: str = CONFIG,
          **env_extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, 'tools/train.py', config, '--work-dir', work,
                             *extra, '--cfg-options', *opts], cwd=ROOT, env=env(**env_extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-3000:]


def kill_when(proc: subprocess.Popen, marker: str) -> None:
    """SIGKILL ``proc`` once it has created ``marker`` (it sleeps there, so the point is exact)."""
    deadline = time.monotonic() + 300
    while not osp.exists(marker):
        if proc.poll() is not None:
            raise AssertionError(f'exited before {marker}: {proc.stderr.read().decode()[-3000:]}')
        assert time.monotonic() < deadline, f'{marker} never appeared'
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def pausing_config(folder: str, at_iter: int, marker: str) -> str:
    """CONFIG plus a hook that stops the run before iteration ``at_iter + 1``."""
    path = osp.join(folder, 'pausing.py')
    with open(path, 'w') as f:
        f.write(f"_base_ = ['{osp.join(ROOT, CONFIG)}']\n"
                "custom_imports = dict(imports=['pause_plugin'], allow_failed_imports=False)\n"
                "custom_hooks = _base_.custom_hooks + [dict(type='PauseAtIterHook', "
                f"at_iter={at_iter}, marker='{marker}')]\n")
    return path


def pointer(work: str) -> str | None:
    path = osp.join(work, 'last_checkpoint')
    return osp.basename(open(path).read().strip()) if osp.exists(path) else None


def result(work: str) -> tuple[dict, dict]:
    """The final checkpoint's weights and the last validation line of ``work``."""
    state = load_local_checkpoint(osp.join(work, f'iter_{ITERS}.pth'))['state_dict']
    lines = []
    for path in glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            lines += [json.loads(line) for line in f if line.strip()]
    val = [line for line in lines if 'coco/bbox_mAP' in line]
    metrics = {k: v for k, v in val[-1].items() if k.startswith('coco/')}
    return state, metrics


def assert_same(work: str, reference: str) -> None:
    state, metrics = result(work)
    ref_state, ref_metrics = result(reference)
    assert state.keys() == ref_state.keys()
    different = [k for k in state if not torch.equal(state[k], ref_state[k])]
    assert not different, f'{len(different)} tensors differ, e.g. {different[:3]}'
    assert metrics == ref_metrics


@pytest.fixture(scope='module')
def reference(shapes_root, tmp_path_factory) -> dict:
    """Uninterrupted runs, with 0 and 2 loader workers (their numpy streams differ)."""
    works = {w: str(tmp_path_factory.mktemp(f'reference{w}')) for w in (0, 2)}
    procs = {w: train(works[w], options(shapes_root, w)) for w in works}
    for proc in procs.values():
        finish(proc)
    return works


def test_the_comparison_can_fail(reference):
    """The loader workers draw other augmentation numbers than the main process: the two
    references differ, so augmentation randomness is in play and assert_same can fail."""
    with pytest.raises(AssertionError, match='tensors differ'):
        assert_same(reference[2], reference[0])


def test_killed_three_times_then_resumed_ends_as_the_uninterrupted_run(reference, shapes_root,
                                                                       tmp_path):
    """One run killed at three points, resumed after each: during iteration 2 (no checkpoint
    yet), mid-epoch during iteration 4 (iter_2.pth saved), and half-way through writing
    iter_6.pth (iter_4.pth saved: the partial file is a hidden temporary, the pointer still names
    iter_4.pth, the next start deletes the temporary)."""
    work = str(tmp_path / 'work')
    opts = options(shapes_root, 0)
    for at_iter, saved in ((1, None), (3, 'iter_2.pth')):
        marker = str(tmp_path / f'paused{at_iter}')
        config = pausing_config(str(tmp_path), at_iter, marker)
        kill_when(train(work, opts, '--resume', config=config), marker)
        assert pointer(work) == saved

    kill_when(train(work, opts, '--resume', **{PAUSE_ENV: 'iter_6.pth'}),
              osp.join(work, 'iter_6.pth.paused'))
    partial = glob.glob(osp.join(work, '.iter_6.pth.*.tmp'))
    assert len(partial) == 1 and 0 < osp.getsize(partial[0]) < osp.getsize(
        osp.join(work, 'iter_4.pth'))
    assert not osp.exists(osp.join(work, 'iter_6.pth'))
    assert pointer(work) == 'iter_4.pth'

    finish(train(work, opts, '--resume'))
    assert not glob.glob(osp.join(work, '.*.tmp'))
    assert_same(work, reference[0])
    # max_keep_ckpts=2: older checkpoints were deleted only once newer ones were complete
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work, 'iter_*.pth'))) == [
        'iter_6.pth', 'iter_8.pth']


def test_kill_mid_epoch_with_two_loader_workers_then_resume(reference, shapes_root, tmp_path):
    """Persistent workers with their own numpy streams: the resumed run fast-forwards them
    through the first 3 batches again (the sampler and worker seeds are fixed)."""
    work, marker = str(tmp_path / 'work'), str(tmp_path / 'paused')
    opts = options(shapes_root, 2)
    kill_when(train(work, opts, config=pausing_config(str(tmp_path), 3, marker)), marker)
    assert pointer(work) == 'iter_2.pth'
    finish(train(work, opts, '--resume'))
    assert_same(work, reference[2])

"""Two processes (torchrun, gloo on CPU) killed with SIGKILL mid-run, then resumed with
``--resume``: the final weights and validation metrics equal an uninterrupted 2-process run.

The same tiny deterministic FCOS as test_kill_resume.py (batch 2 per process, a checkpoint every
2 iterations), started the way a user starts it: ``tools/dist_train.sh CONFIG 2``.
"""
import glob
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
from ports import free_port
from reliability_helpers import CONFIG
from reliability_helpers import tiny_fcos_options as options
from test_kill_resume import HERE, ROOT, assert_same, pausing_config, pointer

from vitdense.datasets.shapes import generate_shapes


def dist_train(config: str, work: str, opts: list[str], *extra: str) -> subprocess.Popen:
    """tools/dist_train.sh CONFIG 2 in its own process group (so that a kill takes all of it)."""
    env = dict(os.environ, PYTHONPATH=f'{ROOT}{os.pathsep}{HERE}', OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1', PORT=str(free_port()),
               PATH=os.pathsep.join([osp.dirname(sys.executable), os.environ.get('PATH', '')]))
    return subprocess.Popen(['tools/dist_train.sh', config, '2', '--work-dir', work, *extra,
                             '--cfg-options', *opts], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc). torchrun starts each rank in a session of its
    own, so killing torchrun's process group does not reach the ranks."""
    children: dict[int, list[int]] = {}
    for stat in glob.glob('/proc/[0-9]*/stat'):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.split('/')[2]))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def kill_all_at_once(proc: subprocess.Popen) -> None:
    """SIGKILL the launcher and every rank together, as a machine failure would."""
    pids = [proc.pid, *descendants(proc.pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)
    deadline = time.monotonic() + 60
    while any(osp.exists(f'/proc/{pid}') and not zombie(pid) for pid in pids):
        assert time.monotonic() < deadline, 'a rank outlived SIGKILL'
        time.sleep(0.05)


def argv(pid: int) -> list[str]:
    try:
        with open(f'/proc/{pid}/cmdline') as f:
            return f.read().split('\0')
    except OSError:
        return []


def zombie(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-4000:]


@pytest.mark.slow
def test_two_processes_killed_mid_epoch_then_resumed_end_as_the_uninterrupted_run(tmp_path):
    root = str(tmp_path / 'shapes') + '/'
    generate_shapes(root, seed=5, num_train=8, num_val=3)
    opts = options(root, 0)
    reference, work = str(tmp_path / 'reference'), str(tmp_path / 'work')
    finish(dist_train(CONFIG, reference, opts))

    marker = str(tmp_path / 'paused')
    proc = dist_train(pausing_config(str(tmp_path), 3, marker), work, opts)
    deadline = time.monotonic() + 600
    while not osp.exists(marker):  # a rank is about to start iteration 4
        if proc.poll() is not None:
            raise AssertionError(f'exited before the pause: {proc.stderr.read().decode()[-4000:]}')
        assert time.monotonic() < deadline, 'the run never paused'
        time.sleep(0.05)
    ranks = [p for p in descendants(proc.pid) if argv(p)[1:3] == ['-u', 'tools/train.py']]
    kill_all_at_once(proc)  # torchrun and both ranks
    assert len(ranks) == 2
    assert pointer(work) == 'iter_2.pth'

    finish(dist_train(CONFIG, work, opts, '--resume'))
    assert_same(work, reference)

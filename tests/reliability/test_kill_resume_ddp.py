"""Two processes (torchrun, gloo on CPU) killed with SIGKILL mid-run, then resumed with
``--resume``: the final weights and validation metrics equal an uninterrupted 2-process run.

The same tiny deterministic FCOS as test_kill_resume.py (batch 2 per process, a checkpoint every
2 iterations), started the way a user starts it: ``tools/dist_train.sh CONFIG 2``.
"""
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

import pytest
from reliability_helpers import CONFIG
from reliability_helpers import tiny_fcos_options as options
from test_kill_resume import HERE, ROOT, assert_same, pausing_config, pointer

from vitdense.datasets.shapes import generate_shapes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_train(config: str, work: str, opts: list[str], *extra: str) -> subprocess.Popen:
    """tools/dist_train.sh CONFIG 2 in its own process group (so that a kill takes all of it)."""
    env = dict(os.environ, PYTHONPATH=f'{ROOT}{os.pathsep}{HERE}', OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1', PORT=str(_free_port()),
               PATH=os.pathsep.join([osp.dirname(sys.executable), os.environ.get('PATH', '')]))
    return subprocess.Popen(['tools/dist_train.sh', config, '2', '--work-dir', work, *extra,
                             '--cfg-options', *opts], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


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
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks, at once
    proc.wait(timeout=60)
    assert pointer(work) == 'iter_2.pth'

    finish(dist_train(CONFIG, work, opts, '--resume'))
    assert_same(work, reference)

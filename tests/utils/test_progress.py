"""Progress bars show on a terminal and never in logs or pipes: the shapes generator and the
COCO -> YOLO converter run as subprocesses with stderr on a pipe (no bar characters), the
generator on a pseudo-terminal (a bar); EvalProgressHook and weight conversion in process, per
VITDENSE_PROGRESS."""
import fcntl
import os
import os.path as osp
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
import torch
from test_convert_roundtrip import ABS1, dinov2_layout, random_vit

from vitdense.engine import EvalProgressHook
from vitdense.utils.convert import convert_file
from vitdense.utils.progress import ENV_VAR, progress, progress_enabled

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# What a tqdm bar leaves in a stream: carriage returns, '100%|', block characters.
BAR = re.compile(r'\r|\d+%\||[\u2588-\u258f]')


def run(args: list[str], tty: bool) -> tuple[str, str]:
    """Run ``python args`` from the repository root; stderr on a pipe or on a pseudo-terminal."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env['PYTHONPATH'] = ROOT
    if not tty:
        done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=True)
        return done.stdout, done.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))  # 24 x 100 chars
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    stdout = proc.stdout.read()
    assert proc.wait(timeout=120) == 0
    return stdout, b''.join(chunks).decode('utf-8', 'replace')


def test_shapes_generation_and_conversion_print_no_bar_into_a_pipe(tmp_path):
    out = str(tmp_path / 'shapes')
    stdout, stderr = run(['-m', 'vitdense.datasets.shapes', '--out', out, '--num-train', '3',
                          '--num-val', '2'], tty=False)
    assert 'Wrote 3 train + 2 val scenes' in stdout
    stdout2, stderr2 = run(['tools/dataset_converters/coco_to_yolo.py',
                            f'{out}/annotations/instances_val.json', f'{out}/val',
                            str(tmp_path / 'yolo'), '--split', 'val'], tty=False)
    assert 'wrote 2 images, ' in stdout2 and os.path.isfile(tmp_path / 'yolo' / 'data.yaml')
    assert not BAR.search(stdout + stderr + stdout2 + stderr2)
    assert stderr == stderr2 == ''


def test_shapes_generation_draws_a_bar_on_a_terminal(tmp_path):
    stdout, stderr = run(['-m', 'vitdense.datasets.shapes', '--out', str(tmp_path / 'shapes'),
                          '--num-train', '3', '--num-val', '2'], tty=True)
    assert 'Wrote 3 train + 2 val scenes' in stdout and not BAR.search(stdout)
    assert 'shapes train' in stderr and '3/3' in stderr and 'shapes val' in stderr
    assert BAR.search(stderr)


def test_progress_follows_the_environment_variable(monkeypatch):
    monkeypatch.setenv(ENV_VAR, '0')
    items = [1, 2]
    assert not progress_enabled() and progress(items) is items
    monkeypatch.setenv(ENV_VAR, '1')
    assert progress_enabled() and list(progress(items)) == items
    monkeypatch.delenv(ENV_VAR)
    assert progress_enabled() == sys.stderr.isatty()


class FakeRunner:
    val_dataloader = [None] * 3
    test_dataloader = [None] * 5


@pytest.mark.parametrize('forced', ['1', '0'])
def test_eval_progress_hook(monkeypatch, capsys, forced):
    monkeypatch.setenv(ENV_VAR, forced)
    hook, runner = EvalProgressHook(), FakeRunner()
    for mode, loader in (('val', runner.val_dataloader), ('test', runner.test_dataloader)):
        getattr(hook, f'before_{mode}_epoch')(runner)
        for i in range(len(loader)):
            getattr(hook, f'after_{mode}_iter')(runner, i)
        getattr(hook, f'after_{mode}_epoch')(runner)
    err = capsys.readouterr().err
    if forced == '1':
        assert 'val' in err and '3/3' in err and 'test' in err and '5/5' in err
    else:
        assert err == ''


@pytest.mark.parametrize('forced', ['1', '0'])
def test_weight_conversion_shows_its_steps(tmp_path, monkeypatch, capsys, forced):
    monkeypatch.setenv(ENV_VAR, forced)
    torch.save(dinov2_layout(random_vit(0, use_cls_token=True, num_register_tokens=4,
                                        layer_scale=1.0, pos_embed=ABS1).state_dict()),
               tmp_path / 'src.pth')
    convert_file(str(tmp_path / 'src.pth'), str(tmp_path / 'out.pth'), 'dinov2')
    err = capsys.readouterr().err
    assert ('convert src.pth' in err and '3/3' in err) == (forced == '1')
    assert bool(BAR.search(err)) == (forced == '1')

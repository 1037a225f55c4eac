"""A corrupt training image mid-epoch: by default the run stops with an error naming the file
(from a loader worker too); with LoadImageFromFile(on_error='skip') the run goes on, and the
skipped files are logged as they come, counted (train/skipped_files) and summarised per epoch.
A loader worker that dies is reported with the file each worker was loading."""
import argparse
import glob
import os
import os.path as osp
import re
import signal
import time

import pytest
from mmengine.config import DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner
from reliability_helpers import CONFIG, tiny_fcos_options

from vitdense.apis import prepare_train_cfg, train
from vitdense.datasets.shapes import generate_shapes
from vitdense.registry import HOOKS, TRANSFORMS
from vitdense.transforms import LoadImageFromFile

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def broken_root(tmp_path_factory) -> tuple[str, list[str]]:
    """8 training images, two of them broken: one truncated to half, one empty."""
    root = tmp_path_factory.mktemp('broken')
    generate_shapes(str(root), seed=5, num_train=8, num_val=3)
    images = sorted(glob.glob(str(root / 'train' / '*')))
    data = open(images[2], 'rb').read()
    open(images[2], 'wb').write(data[:len(data) // 2])
    open(images[5], 'wb').close()
    return str(root) + '/', [images[2], images[5]]


@TRANSFORMS.register_module()
class DieOnFile:
    """Test-only pipeline step: the loader worker that reaches ``name`` dies (SIGKILL), as one
    whose decoder segfaults or that the OOM killer picks.

    It dies only once ``wait_for`` exists (written by :class:`MarkTrainingStarted`): the workers
    start prefetching when the train loop is built, before mmengine's ``before_run`` hooks, and
    a worker killed while those format the config surfaces as mmengine's "Failed to format the
    config file" SyntaxError (its bare ``except``) instead of the loader's error under test."""

    def __init__(self, name: str, wait_for: str):
        self.name, self.wait_for = name, wait_for

    def __call__(self, results: dict) -> dict:
        if results['img_path'].endswith(self.name):
            deadline = time.monotonic() + 120
            while not os.path.exists(self.wait_for) and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGKILL)
        return results


@HOOKS.register_module()
class MarkTrainingStarted(Hook):
    """Test-only hook: writes ``path`` before the first training iteration."""

    def __init__(self, path: str):
        self.path = path

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        open(self.path, 'w').close()


def test_a_crashed_loader_worker_is_reported_with_the_file_it_was_loading(broken_root,
                                                                           tmp_path):
    root, _ = broken_root
    victim = sorted(glob.glob(osp.join(root, 'train', '*')))[6]
    cfg = prepare_train_cfg(osp.join(ROOT, CONFIG), str(tmp_path / 'work'),
                            cfg_options=options(root, 2, {}))
    started = str(tmp_path / 'training-started')
    cfg.train_dataloader.dataset.pipeline.insert(1, dict(type='DieOnFile', wait_for=started,
                                                         name=osp.basename(victim)))
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='MarkTrainingStarted', path=started)]
    cfg.train_dataloader.dataset.pipeline[0]['on_error'] = 'skip'  # past the broken files
    with pytest.raises(RuntimeError, match=r'(?s)DataLoader worker \(pid.*The loader workers '
                                           r'were last loading.*' + re.escape(victim)):
        train(cfg)


def options(data_root: str, workers: int, extra: dict) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    opts = parser.parse_args(['--o', *tiny_fcos_options(data_root, workers)]).o
    opts.update({'train_cfg.max_iters': 4, 'train_cfg.val_interval': 100,
                 'default_hooks.checkpoint.interval': 100}, **extra)
    return opts


def run(data_root: str, work: str, workers: int, extra: dict | None = None) -> Runner:
    cfg = prepare_train_cfg(osp.join(ROOT, CONFIG), work,
                            cfg_options=options(data_root, workers, extra or {}))
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@pytest.mark.parametrize('workers', [0, 2])
def test_a_corrupt_image_stops_the_run_naming_the_file(broken_root, tmp_path, workers):
    root, broken = broken_root
    with pytest.raises(Exception) as info:
        run(root, str(tmp_path / 'work'), workers)
    assert any(f"Image file '{path}'" in str(info.value) for path in broken), str(info.value)
    assert 'could not be decoded' in str(info.value)


def test_skip_policy_counts_and_summarises_the_skipped_files(broken_root, tmp_path):
    """4 iterations of batch 2 = one pass over the 8 images, with 2 loader workers: both broken
    files are skipped (a random replacement can be a broken file again: each skip counts),
    reported from the workers, and summarised at the end of that pass."""
    root, broken = broken_root
    work = str(tmp_path / 'work')
    runner = run(root, work, 2, {'train_dataloader.dataset.pipeline.0.on_error': 'skip'})
    count = int(runner.message_hub.get_scalar('train/skipped_files').current())
    log = open(glob.glob(osp.join(work, '*', '*.log'))[0]).read()
    assert count >= 2 and log.count('Skipped a training file (') == count
    for path in broken:
        assert f"Image file '{path}'" in log
    assert (f'{count} training files were skipped in the data epoch ending at iteration 4 '
            f'({count} in all)') in log


def test_on_error_is_checked():
    with pytest.raises(ValueError, match="on_error must be one of .*'ignore'"):
        LoadImageFromFile(on_error='ignore')

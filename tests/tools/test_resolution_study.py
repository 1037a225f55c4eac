"""tools/analysis/resolution_study.py: trains what is missing (real tools/train.py runs of a tiny
config), sweeps, writes the table with the seed spread, and resumes without retraining."""
import os.path as osp
import sys
from pathlib import Path

import pytest

from vitdense.datasets.shapes import generate_shapes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
import resolution_study  # noqa: E402


def tiny_options(data_root: str) -> list[str]:
    opts = {'model.backbone.arch': 'test', 'model.backbone.global_indices': '(1,)',
            'model.backbone.init_cfg': None,  # the detectors' crop pretraining is not here
            'train_cfg.max_iters': 2,
            'param_scheduler.0.end': 1, 'param_scheduler.1.begin': 1,
            'train_dataloader.batch_size': 2, 'test_dataloader.batch_size': 2}
    for split in ('train', 'val', 'test'):
        opts.update({f'{split}_dataloader.num_workers': 0,
                     f'{split}_dataloader.persistent_workers': False,
                     f'{split}_dataloader.dataset.data_root': data_root})
    return [f'{k}={v}' for k, v in opts.items()]


def test_study_trains_sweeps_and_resumes(tmp_path, monkeypatch):
    # Where the configs expect it from the working directory: the detectors' COCO evaluator
    # reads data/shapes/annotations/instances_val.json, which data_root does not move.
    data = str(tmp_path / 'data' / 'shapes') + '/'
    generate_shapes(data, seed=3, num_train=4, num_val=2)
    monkeypatch.chdir(tmp_path)
    out, work = str(tmp_path / 'docs'), str(tmp_path / 'work')
    argv = ['--tasks', 'seg', '--families', 'cpe', '--scales', '1', '--modes', 'zoom',
            '--out', out, '--work-root', work, '--cfg-options', *tiny_options(data)]
    resolution_study.main(argv)
    assert resolution_study.last_checkpoint(osp.join(work, 'seg_cpe_s0'))
    # The segmentor started from its family's detector, trained first for it.
    assert resolution_study.last_checkpoint(osp.join(work, 'det_cpe_s0'))
    seg_log = next(Path(work, 'seg_cpe_s0').glob('*/*.log')).read_text()
    assert f"load model from: {osp.join(work, 'det_cpe_s0', 'iter_2.pth')}" in seg_log
    table = open(osp.join(out, 'seg_table.md')).read()
    assert '| model | zoom x1 |' in table and '| cpe |' in table
    assert 'x the test resize (320, 320) of the configs' in table  # the seg configs' crop size
    for ext in ('json', 'csv', 'png'):
        assert osp.getsize(osp.join(out, f'seg_sweep.{ext}')) > 0

    def no_training(*args, **kwargs):
        raise AssertionError('trained again')

    monkeypatch.setattr(resolution_study.subprocess, 'run', no_training)
    resolution_study.main(argv)  # everything done: no training, no new sweep point


def test_table_reports_the_seed_spread(tmp_path):
    point = resolution_study.resolution_sweep.SweepPoint
    points = [point(model, mode, scale, 1.0, 'mIoU', value, {})
              for model, offset in (('abs', 0.0), ('abs_s1', 1.5), ('rope', 3.0))
              for mode in ('zoom', 'canvas') for scale, value in ((1.0, 10 + offset),
                                                                  (2.0, 5 + offset / 3))]
    path = str(tmp_path / 'table.md')
    resolution_study.write_table(points, path, 'seg', (320, 320))
    table = open(path).read()
    assert 'x the test resize (320, 320)' in table
    assert '| model | zoom x1 | zoom x2 | canvas x1 | canvas x2 |' in table
    assert '| abs_s1 | 11.50 | 5.50 | 11.50 | 5.50 |' in table
    assert 'abs: max 1.50, mean 1.00' in table and 'rope:' not in table.split('spread')[1]
    kept = table.split('as a fraction')[1]  # each model's value over its own at x1
    assert '| abs | 1.00 | 0.50 | 1.00 | 0.50 |' in kept
    assert '| abs_s1 | 1.00 | 0.48 | 1.00 | 0.48 |' in kept  # 5.5 / 11.5
    assert 'abs: max 0.02, mean 0.01' in kept


def test_unknown_family_is_refused():
    with pytest.raises(SystemExit):
        resolution_study.parse_args(['--families', 'alibi'])

"""Evaluation under 2 processes counts every sample of an odd-sized val set once and predicts
what 1 process predicts: the validation of the 2-process (slurm) run against the 1-process run,
both at iteration 4 with the same weights, and tools/dist_test.sh on the 1-process checkpoint.
Only rank 0 draws. tools/slurm_test.sh passes mmdet's srun options."""
import os
import os.path as osp
import pickle

import pytest
import torch
from launching import NUM_VAL, fake_srun_dir, finish, start
from ports import free_port

from vitdense.apis.demo import read_test_metrics

pytestmark = pytest.mark.slow  # launches processes and trains: tens of seconds


def load(path: str) -> list[dict]:
    with open(path, 'rb') as f:
        return pickle.load(f)


@pytest.fixture(scope='module')
def dist_tested(config, checkpoint, tmp_path_factory) -> tuple[str, list[dict]]:
    """tools/dist_test.sh, 2 processes, with --out and --show-dir: work dir, predictions."""
    work = str(tmp_path_factory.mktemp('dist_test'))
    out = osp.join(work, 'preds.pkl')
    finish(start(['tools/dist_test.sh', config, checkpoint, '2', '--work-dir', work, '--out', out,
                  '--show-dir', osp.join(work, 'vis'), '--show-score-thr', '0'],
                 PORT=str(free_port())))
    return work, load(out)


def assert_same_predictions(preds: list[dict], reference: list[dict]) -> None:
    """Every val image once, with the reference's boxes and scores."""
    assert sorted(p['img_id'] for p in preds) == list(range(1, NUM_VAL + 1))
    by_id = {p['img_id']: p['pred_instances'] for p in reference}
    assert sum(len(p['bboxes']) for p in by_id.values()) > 0  # something to compare
    for pred in preds:
        ref = by_id[pred['img_id']]
        assert torch.allclose(pred['pred_instances']['bboxes'], ref['bboxes'], atol=1e-3)
        assert torch.allclose(pred['pred_instances']['scores'], ref['scores'], atol=1e-5)


def test_validation_under_two_processes_sees_each_sample_once(one_process, resumed_on_slurm):
    assert_same_predictions(load(resumed_on_slurm.val_predictions),
                            load(one_process.val_predictions))


def test_dist_test_sees_each_sample_once(one_process, dist_tested):
    work, preds = dist_tested
    assert_same_predictions(preds, load(one_process.val_predictions))
    assert read_test_metrics(work)['coco/bbox_mAP'] >= 0


def test_only_rank_0_draws(dist_tested):
    """DrawPredictionsHook runs on rank 0, which evaluates images 0, 2, 4 of 5."""
    work, _ = dist_tested
    assert sorted(os.listdir(osp.join(work, 'vis'))) == ['000000.png', '000002.png',
                                                         '000004.png']


def test_slurm_test_passes_mmdet_options_to_srun(tmp_path):
    log = str(tmp_path / 'srun_args')
    finish(start(['tools/slurm_test.sh', 'dev', 'eval', 'a.py', 'b.pth', '--out', 'c.pkl'],
                 bin_dir=fake_srun_dir(tmp_path), FAKE_SRUN_LOG=log, FAKE_SRUN_DRY='1',
                 GPUS='16', CPUS_PER_TASK='3'))
    with open(log) as f:
        srun, command = f.read().split(' python ')
    assert srun.split() == ['-p', 'dev', '--job-name=eval', '--gres=gpu:8', '--ntasks=16',
                            '--ntasks-per-node=8', '--cpus-per-task=3', '--kill-on-bad-exit=1']
    flag, tool, *args = command.split()
    assert flag == '-u' and tool.endswith('tools/test.py')
    assert args == ['a.py', 'b.pth', '--launcher=slurm', '--out', 'c.pkl']

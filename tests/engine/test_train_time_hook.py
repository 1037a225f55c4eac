"""TrainTimeHook: training minutes next to each validation result, without start-up, validation,
checkpoint saving or a resumed run's dataloader fast-forward; carried over on resume only."""
import glob
import json
import os.path as osp

import mmengine.runner.runner as mmengine_runner
import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import vitdense.engine.train_time_hook as train_time_hook
from vitdense.engine import TRAIN_MINUTES_KEY
from vitdense.utils import register_all_modules

register_all_modules()

# Seconds on a fake clock: only these advance it, so the expected totals are exact.
STEP, SAMPLE, START, EVAL, SAVE = 1.0, 0.25, 1000.0, 100.0, 10.0


class FakeClock:
    now = 0.0

    def perf_counter(self) -> float:
        return self.now


CLOCK = FakeClock()


class ToySet(Dataset):
    def __init__(self, load_seconds: float):
        self.load_seconds = load_seconds

    def __len__(self):
        return 16

    def __getitem__(self, i):
        CLOCK.now += self.load_seconds
        return dict(inputs=torch.full((4,), float(i)), target=torch.ones(1))


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(4, 1)

    def forward(self, inputs, target=None, mode='tensor'):
        out = self.net(inputs)
        if mode == 'loss':
            CLOCK.now += STEP
            return dict(loss=(out - target).square().mean())
        return list(out.detach())


class SlowMetric(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results.extend(float(s) for s in data_samples)

    def compute_metrics(self, results: list) -> dict:
        CLOCK.now += EVAL
        return {'toy/score': 1.0}


class SlowStart(Hook):
    def before_train(self, runner) -> None:
        CLOCK.now += START


def make_runner(work_dir, max_iters: int, resume: bool = False, load_from=None) -> Runner:
    def loader(load_seconds):
        return dict(dataset=ToySet(load_seconds), batch_size=2, num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    collate_fn=dict(type='default_collate'))

    return Runner(
        model=ToyModel(), work_dir=str(work_dir), train_dataloader=loader(SAMPLE),
        val_dataloader=loader(0.0), val_evaluator=Evaluator([SlowMetric()]),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=3),
        val_cfg=dict(type='ValLoop'),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=4, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='TrainTimeHook'), SlowStart()],
        resume=resume, load_from=load_from, default_scope='vitdense',
        experiment_name=f'train-time-{work_dir}')


def logged_validations(work_dir) -> list[dict]:
    """The validation lines of the newest run's scalars.json."""
    path = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    with open(path) as f:
        return [line for line in map(json.loads, f) if 'toy/score' in line]


@pytest.fixture
def fake_clock(monkeypatch):
    CLOCK.now = 0.0
    monkeypatch.setattr(train_time_hook, 'time', CLOCK)

    def slow_save(*args, **kwargs):
        CLOCK.now += SAVE
        return save(*args, **kwargs)

    save = mmengine_runner.save_checkpoint
    monkeypatch.setattr(mmengine_runner, 'save_checkpoint', slow_save)


def test_minutes_are_logged_with_each_validation(fake_clock, tmp_path):
    make_runner(tmp_path, max_iters=6).train()
    # The clock starts at an iteration and stops for a checkpoint (iterations 4 and 6) or a
    # validation (3 and 6): it counts every step and the loading of each batch after the first
    # of a stretch (a batch is 2 samples).
    batch = 2 * SAMPLE
    minutes = [line[TRAIN_MINUTES_KEY] for line in logged_validations(tmp_path)]
    assert minutes == pytest.approx([(3 * STEP + 2 * batch) / 60,
                                     (6 * STEP + 3 * batch) / 60], abs=1e-9)


@pytest.mark.parametrize('resume', [True, False], ids=['resume', 'load_from'])
def test_minutes_continue_on_resume_only(fake_clock, tmp_path, resume):
    make_runner(tmp_path / 'first', max_iters=6).train()
    ckpt = osp.join(tmp_path, 'first', 'iter_6.pth')
    make_runner(tmp_path / 'second', max_iters=9 if resume else 3, resume=resume,
                load_from=ckpt).train()
    batch = 2 * SAMPLE
    # Resumed: 6 iterations as above, then 7-9 with a checkpoint at 8; from load_from: 1-3.
    seconds = 9 * STEP + 4 * batch if resume else 3 * STEP + 2 * batch
    minutes = [line[TRAIN_MINUTES_KEY] for line in logged_validations(tmp_path / 'second')]
    assert minutes == pytest.approx([seconds / 60], abs=1e-9)


def test_no_minutes_for_a_validation_outside_training(fake_clock, tmp_path):
    runner = make_runner(tmp_path, max_iters=3)
    runner.val()
    assert TRAIN_MINUTES_KEY not in logged_validations(tmp_path)[0]

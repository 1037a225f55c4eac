"""RngStateHook: a resumed run of a model that draws random numbers (dropout) in every step, with
a validation between the checkpoint and the kill, ends bit-identical to the uninterrupted run;
without the hook it does not (so the test can fail)."""
import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from reliability_helpers import ToySet
from torch import nn


class DropoutModel(BaseModel):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Linear(4, 8)
        self.drop = nn.Dropout(0.5)

    def forward(self, inputs, index=None, mode='tensor'):
        out = self.drop(self.net(inputs))
        if mode == 'loss':
            return dict(loss=out.square().mean())
        return list(out.detach())


class Constant(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results.append(0.0)

    def compute_metrics(self, results: list) -> dict:
        return {'toy/score': 0.0}


def run(make_runner, work, max_iters: int, rng_hook: bool, resume: bool = False):
    loader = dict(dataset=ToySet(), batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=True),
                  collate_fn=dict(type='default_collate'))
    runner = make_runner(
        DropoutModel(), max_iters=max_iters, work_dir=work, resume=resume,
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False,
                                           save_last=False)),
        custom_hooks=[dict(type='RngStateHook')] if rng_hook else [],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=3),
        val_dataloader=dict(loader, sampler=dict(type='DefaultSampler', shuffle=True)),
        val_cfg=dict(type='ValLoop'), val_evaluator=dict(type=Constant),
        randomness=dict(seed=0))
    runner.train()
    return runner.model.net.weight.detach().clone()


@pytest.mark.parametrize('rng_hook', [True, False])
def test_resume_with_dropout_and_validation_is_bit_identical_only_with_the_hook(
        make_runner, tmp_path, rng_hook):
    reference = run(make_runner, tmp_path / 'ref', 6, rng_hook)
    # "killed" after iteration 3 (its validation ran; iter_2.pth is the last checkpoint)
    run(make_runner, tmp_path / 'work', 3, rng_hook)
    resumed = run(make_runner, tmp_path / 'work', 6, rng_hook, resume=True)
    assert torch.equal(resumed, reference) == rng_hook

"""The compat layer: resume and load_from on torch >= 2.6, bf16 autocast on CPU."""
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from vitdense.engine import AutocastOptimWrapper
from vitdense.engine.compat import load_local_checkpoint
from vitdense.utils import register_all_modules

register_all_modules()


class ToySet(Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(8, generator=g), target=torch.randn(1, generator=g))


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
        self.dtypes = []

    def forward(self, inputs, target=None, mode='tensor'):
        out = self.net(inputs)
        self.dtypes.append(out.dtype)
        if mode == 'loss':
            return dict(loss=(out.float() - target).square().mean())
        return out


def make_runner(work_dir, max_iters, resume=False, load_from=None, wrapper='OptimWrapper'):
    loader = dict(dataset=ToySet(), batch_size=4, sampler=dict(type='DefaultSampler', shuffle=True),
                  collate_fn=dict(type='default_collate'))
    torch.manual_seed(0)
    return Runner(
        model=ToyModel(), work_dir=str(work_dir), train_dataloader=loader,
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(type=wrapper, optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=dict(type='MultiStepLR', by_epoch=False, milestones=[3, 5], gamma=0.5,
                            end=8),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=4, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        resume=resume, load_from=load_from, default_scope='vitdense', randomness=dict(seed=0),
        experiment_name=f'toy-{max_iters}-{resume}-{wrapper}')


def _assert_same_optimizer(a: dict, b: dict) -> None:
    assert a['param_groups'] == b['param_groups']
    assert a['state'].keys() == b['state'].keys()
    for sa, sb in zip(a['state'].values(), b['state'].values()):
        for key in sa:
            torch.testing.assert_close(sa[key], sb[key])


def test_resume_restores_iteration_optimizer_and_scheduler(tmp_path):
    part = make_runner(tmp_path, 4)
    part.train()
    # max_iters == the saved iteration: resuming loads the state and trains no further step.
    resumed = make_runner(tmp_path, 4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    _assert_same_optimizer(part.optim_wrapper.optimizer.state_dict(),
                           resumed.optim_wrapper.optimizer.state_dict())
    assert part.param_schedulers[0].state_dict() == resumed.param_schedulers[0].state_dict()
    for a, b in zip(part.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(a, b)


def test_resume_continues_to_the_end_of_the_schedule(tmp_path):
    full = make_runner(tmp_path / 'full', 8)
    full.train()
    make_runner(tmp_path / 'part', 4).train()
    resumed = make_runner(tmp_path / 'part', 8, resume=True)
    resumed.train()
    assert resumed.iter == 8
    assert load_local_checkpoint(str(tmp_path / 'part' / 'iter_8.pth'))['meta']['iter'] == 8
    assert full.param_schedulers[0].state_dict() == resumed.param_schedulers[0].state_dict()
    assert resumed.optim_wrapper.get_lr()['lr'] == [0.0025]


def test_load_from_restores_weights(tmp_path):
    first = make_runner(tmp_path / 'a', 4)
    first.train()
    second = make_runner(tmp_path / 'b', 4, load_from=str(tmp_path / 'a' / 'iter_4.pth'))
    second.load_or_resume()
    for a, b in zip(first.model.parameters(), second.model.parameters()):
        torch.testing.assert_close(a, b)


def test_checkpoints_load_with_weights_only(tmp_path):
    make_runner(tmp_path, 4).train()
    ckpt = torch.load(tmp_path / 'iter_4.pth', weights_only=True)
    assert 'message_hub' in ckpt and 'optimizer' in ckpt


def test_autocast_wrapper_trains_in_bf16(tmp_path):
    runner = make_runner(tmp_path, 2, wrapper='AutocastOptimWrapper')
    runner.train()
    assert isinstance(runner.optim_wrapper, AutocastOptimWrapper)
    assert set(runner.model.dtypes) == {torch.bfloat16}

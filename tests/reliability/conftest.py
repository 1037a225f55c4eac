"""The ``make_runner`` fixture: a toy mmengine Runner around reliability_helpers.ToyModel."""
import pytest
from mmengine.runner import Runner
from reliability_helpers import ToySet
from torch import nn


@pytest.fixture
def make_runner(tmp_path):
    def make(model: nn.Module, max_iters: int = 4, default_hooks: dict | None = None,
             work_dir=None, **kwargs) -> Runner:
        work_dir = str(work_dir or tmp_path / 'work')
        kwargs.setdefault('train_cfg', dict(type='IterBasedTrainLoop', max_iters=max_iters))
        return Runner(
            model=model, work_dir=work_dir,
            train_dataloader=dict(dataset=ToySet(), batch_size=2, num_workers=0,
                                  sampler=dict(type='DefaultSampler', shuffle=False),
                                  collate_fn=dict(type='default_collate')),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            default_hooks=default_hooks or {}, default_scope='vitdense',
            experiment_name=f'toy-{work_dir}-{max_iters}', **kwargs)
    return make

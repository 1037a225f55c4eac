"""NonFiniteHook: a NaN loss term or a non-finite gradient is caught at its step, named, and
either stops the run (default) or skips the step and is counted; the weights never take it."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from reliability_helpers import CONFIG, ToyModel

from vitdense.apis import load_config
from vitdense.engine import NonFiniteError, NonFiniteHook

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class RecordWeights(Hook):
    def __init__(self):
        self.after = {}  # iteration (1-based) -> weights after it

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.after[runner.iter + 1] = runner.model.net.weight.detach().clone()


def hooks(**kwargs) -> dict:
    return dict(nonfinite=dict(type='NonFiniteHook', **kwargs))  # a Runner takes any name here


def test_nan_loss_term_stops_the_run_naming_the_term_and_iteration(make_runner):
    # samples 4 and 5 are iteration 3's batch
    runner = make_runner(ToyModel(nan_at={4}), max_iters=6, default_hooks=hooks())
    record = RecordWeights()
    runner.register_hook(record)
    with pytest.raises(NonFiniteError, match=r'iteration 3: loss terms loss_aux=nan\. '
                                             r'The weights were not updated'):
        runner.train()
    assert torch.equal(runner.model.net.weight, record.after[2])  # the faulty step never applied


def test_infinite_gradient_of_a_finite_loss_is_caught_naming_the_parameter(make_runner):
    runner = make_runner(ToyModel(inf_grad_at={2}), max_iters=4, default_hooks=hooks())
    with pytest.raises(NonFiniteError, match=r'iteration 2: gradients of 1 parameters: net\.bias'):
        runner.train()
    assert torch.isfinite(runner.model.net.bias).all()


def test_skip_policy_skips_counts_logs_and_summarises(make_runner, tmp_path):
    runner = make_runner(ToyModel(nan_at={4}, inf_grad_at={8}), max_iters=6,
                         default_hooks=hooks(policy='skip'))
    record = RecordWeights()
    runner.register_hook(record)
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, NonFiniteHook))
    assert hook.skipped == [3, 5]
    w = record.after
    assert torch.equal(w[3], w[2]) and torch.equal(w[5], w[4])  # skipped steps change nothing
    assert not torch.equal(w[4], w[3]) and not torch.equal(w[6], w[5])  # the others train
    assert all(torch.isfinite(x).all() for x in w.values())
    assert runner.message_hub.get_scalar('train/nonfinite_skips').current() == 2
    log = open(glob.glob(osp.join(tmp_path, 'work', '*', '*.log'))[0]).read()
    assert 'Non-finite values at iteration 3: loss terms loss_aux=nan. Step skipped' in log
    assert 'gradients of 1 parameters: net.bias. Step skipped (2 so far)' in log
    assert '2 optimizer steps were skipped for non-finite losses or gradients, at ' \
           'iterations [3, 5]' in log


def test_skip_policy_stops_past_max_skips(make_runner):
    runner = make_runner(ToyModel(nan_at={2, 4}), max_iters=6,
                         default_hooks=hooks(policy='skip', max_skips=1))
    with pytest.raises(NonFiniteError, match='2 steps skipped, more than NonFiniteHook '
                                             'max_skips=1'):
        runner.train()


def test_skip_count_continues_on_resume(make_runner, tmp_path):
    default_hooks = dict(hooks(policy='skip'),
                         checkpoint=dict(type='CheckpointHook', interval=4, by_epoch=False))
    make_runner(ToyModel(nan_at={4}), max_iters=4, default_hooks=default_hooks).train()
    runner = make_runner(ToyModel(nan_at={8}), max_iters=6, default_hooks=default_hooks,
                         resume=True)
    runner.train()
    assert next(h for h in runner.hooks if isinstance(h, NonFiniteHook)).skipped == [3, 5]


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="policy must be one of .*'warn'"):
        NonFiniteHook(policy='warn')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='AmpOptimWrapper needs a GPU')
def test_loss_scaler_overflow_under_fp16_amp_is_not_a_fault(make_runner):
    """fp16 AMP: the first steps' scaled gradients overflow (initial scale 2**40) and the loss
    scaler skips them; NonFiniteHook counts none of them."""
    runner = make_runner(ToyModel().cuda(), max_iters=4, default_hooks=hooks(policy='raise'),
                         optim_wrapper=dict(type='AmpOptimWrapper', loss_scale=dict(
                             init_scale=2.0 ** 40), optimizer=dict(type='SGD', lr=0.01)))
    runner.train()
    assert runner.optim_wrapper.loss_scaler.get_scale() < 2.0 ** 40  # the scaler did skip


def test_every_config_stops_on_non_finite_values_by_default():
    """Policy from configs/_base_/default_runtime.py, overridable as its error message says."""
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))):
        hooks_cfg = load_config(path).custom_hooks
        assert [h.get('policy') for h in hooks_cfg if h.type == 'NonFiniteHook'] == ['raise'], path
    cfg = load_config(osp.join(ROOT, CONFIG), {'custom_hooks.1.policy': 'skip'})
    assert cfg.custom_hooks[1] == dict(type='NonFiniteHook', policy='skip')

"""MergedGroupsOptimWrapperConstructor: mmengine's per-parameter options, in as few groups as
there are distinct option sets, and the same updates."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

from vitdense.engine.merged_groups import merge_param_groups
from vitdense.utils import register_all_modules

LR, WD = 1e-2, 0.05


class Net(nn.Module):
    """Convolutions (the first frozen), norms and a linear head: three option sets under
    ``norm_decay_mult=0`` and a ``head`` lr multiplier (mmengine's custom keys win over
    ``norm_decay_mult``: the head's norm is decayed)."""

    def __init__(self):
        super().__init__()
        # no bias before a BN: its gradient is zero up to rounding, and Adam's step on a
        # gradient far below eps depends on the rounding (fused and for-loop AdamW differ there)
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8))
        self.head = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 4))
        self.backbone[0].requires_grad_(False)

    def forward(self, x):
        return self.head(self.backbone(x).mean((2, 3)))


def optim_cfg(merged: bool, fused: bool) -> dict:
    cfg = dict(optimizer=dict(type='AdamW', lr=LR, weight_decay=WD, fused=fused),
               paramwise_cfg=dict(norm_decay_mult=0.0,
                                  custom_keys={'head': dict(lr_mult=0.1)}))
    if merged:
        cfg['constructor'] = 'MergedGroupsOptimWrapperConstructor'
    return cfg


def options_of(optimizer) -> dict[int, tuple[float, float]]:
    """id(parameter) -> (lr, weight decay) as the optimizer will apply them."""
    return {id(p): (g['lr'], g['weight_decay']) for g in optimizer.param_groups
            for p in g['params']}


def test_merge_keeps_each_parameters_options_in_first_seen_order():
    a, b, c, d = (torch.zeros(1) for _ in range(4))
    groups = [dict(params=[a], lr=1.0), dict(params=[b], lr=2.0, weight_decay=0.0),
              dict(params=[c], lr=1.0), dict(params=[d], lr=2.0)]
    before = copy.deepcopy(groups)
    merged = merge_param_groups(groups)
    assert [len(g['params']) for g in merged] == [2, 1, 1]
    assert merged[0]['params'][0] is a and merged[0]['params'][1] is c
    assert merged[1]['params'][0] is b and merged[1]['weight_decay'] == 0.0
    assert merged[2]['params'][0] is d and 'weight_decay' not in merged[2]
    assert [len(g['params']) for g in groups] == [len(g['params']) for g in before]  # unchanged


def test_constructor_merges_mmengines_groups_and_keeps_their_options():
    register_all_modules()
    net = Net()
    plain = build_optim_wrapper(net, optim_cfg(merged=False, fused=False)).optimizer
    merged = build_optim_wrapper(net, optim_cfg(merged=True, fused=False)).optimizer
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert len(plain.param_groups) == len(trainable) == 9  # one per trainable tensor
    # the backbone's (trainable) convolution, its norms, and the head
    assert len(merged.param_groups) == 3
    assert options_of(merged) == options_of(plain)
    assert options_of(merged)[id(net.head[1].weight)] == pytest.approx((LR * 0.1, WD))
    assert options_of(merged)[id(net.backbone[1].weight)] == pytest.approx((LR, 0.0))


@pytest.mark.parametrize('fused', [False, True])
def test_merged_groups_make_the_same_updates(fused):
    register_all_modules()
    torch.manual_seed(0)
    nets = [Net(), None]
    nets[1] = copy.deepcopy(nets[0])
    wrappers = [build_optim_wrapper(nets[0], optim_cfg(merged=False, fused=False)),
                build_optim_wrapper(nets[1], optim_cfg(merged=True, fused=fused))]
    x = torch.randn(4, 3, 8, 8)
    for _ in range(3):
        for net, wrapper in zip(nets, wrappers):
            wrapper.update_params(net(x).square().mean())
    moved = (nets[0].head[1].weight - Net().head[1].weight).abs().max()
    assert moved > 1e-3  # the steps did change the weights
    for (name, p0), p1 in zip(nets[0].named_parameters(), nets[1].parameters()):
        torch.testing.assert_close(p1, p0, rtol=0, atol=1e-6, msg=name)

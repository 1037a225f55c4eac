"""LayerDecayOptimWrapperConstructor: the lr and weight decay of every parameter group."""
import pytest
import torch
from mmengine.optim import OptimWrapper, build_optim_wrapper
from torch import nn

from vitdense.engine.layer_decay import LayerDecayOptimWrapperConstructor
from vitdense.models.backbones import ViT
from vitdense.utils import register_all_modules

LR, WD, RATE, DEPTH = 1e-3, 0.05, 0.5, 2


class TinyDetector(nn.Module):
    """A ViT backbone, a neck and a head that has its own ``blocks`` (must not be decayed)."""

    def __init__(self):
        super().__init__()
        self.backbone = ViT(arch='test', img_size=(32, 32), patch_size=8, use_cls_token=True,
                            num_register_tokens=2, layer_scale=0.1, window_size=2,
                            global_indices=(1,), pos_embed=dict(type='LearnedAbsolutePE'),
                            attn_pos_enc=dict(type='DecomposedRelPosPE'))
        self.neck = nn.Conv2d(32, 16, 1)
        self.head = nn.ModuleDict({'blocks': nn.ModuleList([nn.Linear(16, 4)])})
        self.frozen = nn.Parameter(torch.zeros(3, 3), requires_grad=False)


# Hand-written expectations: name -> (layer id, takes weight decay).
EXPECTED = {
    'backbone.patch_embed.proj.weight': (0, True),
    'backbone.patch_embed.proj.bias': (0, False),
    'backbone.cls_token': (0, False),
    'backbone.reg_tokens': (0, False),
    'backbone.pos_embed.table': (0, False),
    'backbone.blocks.0.norm1.weight': (1, False),
    'backbone.blocks.0.attn.qkv.weight': (1, True),
    'backbone.blocks.0.attn.qkv.bias': (1, False),
    'backbone.blocks.0.attn.pos_enc.rel_pos_h': (1, False),
    'backbone.blocks.0.ls1.gamma': (1, False),
    'backbone.blocks.1.mlp.fc2.weight': (2, True),
    'backbone.blocks.1.attn.pos_enc.rel_pos_w': (2, False),
    f'backbone.out_norms.{DEPTH - 1}.weight': (DEPTH + 1, False),
    'neck.weight': (DEPTH + 1, True),
    'neck.bias': (DEPTH + 1, False),
    'head.blocks.0.weight': (DEPTH + 1, True),
}


def build(model: nn.Module) -> OptimWrapper:
    register_all_modules()
    cfg = dict(optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
               constructor='LayerDecayOptimWrapperConstructor',
               paramwise_cfg=dict(decay_rate=RATE, num_layers=DEPTH))
    return build_optim_wrapper(model, cfg)


def test_every_parameter_group_has_the_layer_lr_and_decay():
    model = TinyDetector()
    wrapper = build(model)
    names = {id(p): n for n, p in model.named_parameters()}
    seen = {}
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            seen[names[id(param)]] = (group['lr'], group['weight_decay'])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(seen) == trainable  # every trainable parameter once, the frozen one not at all
    for name, (layer, decays) in EXPECTED.items():
        lr, wd = seen[name]
        assert lr == pytest.approx(LR * RATE ** (DEPTH + 1 - layer)), name
        assert wd == (WD if decays else 0.0), name
    # and every other parameter follows the same rules
    for name, (lr, wd) in seen.items():
        assert any(lr == pytest.approx(LR * RATE ** k) for k in range(DEPTH + 2)), name
        one_d = dict(model.named_parameters())[name].ndim == 1
        if one_d or 'token' in name or 'pos' in name:
            assert wd == 0.0, name


def test_groups_are_per_layer_and_decay_flag():
    wrapper = build(TinyDetector())
    keys = [(g['layer_id'], g['weight_decay']) for g in wrapper.optimizer.param_groups]
    assert len(keys) == len(set(keys))
    assert {g['layer_id'] for g in wrapper.optimizer.param_groups} == set(range(DEPTH + 2))


def test_bare_backbone_is_decayed_without_prefix():
    vit = ViT(arch='test', img_size=(32, 32), patch_size=8)
    wrapper = build(vit)
    lrs = {n: g['lr'] for g in wrapper.optimizer.param_groups for n in g['param_names']}
    assert lrs['patch_embed.proj.weight'] == pytest.approx(LR * RATE ** 3)
    assert lrs['blocks.1.attn.qkv.weight'] == pytest.approx(LR * RATE)
    assert lrs['out_norms.1.weight'] == pytest.approx(LR)


def test_bad_paramwise_cfg_is_rejected():
    optim = dict(optimizer=dict(type='AdamW', lr=LR))
    with pytest.raises(ValueError, match="missing \\['decay_rate'\\]"):
        LayerDecayOptimWrapperConstructor(optim, dict(num_layers=12))
    with pytest.raises(ValueError, match="unsupported \\['norm_decay_mult'\\]"):
        LayerDecayOptimWrapperConstructor(optim, dict(decay_rate=0.7, num_layers=12,
                                                      norm_decay_mult=0.0))
    with pytest.raises(ValueError, match='decay_rate must be in'):
        LayerDecayOptimWrapperConstructor(optim, dict(decay_rate=1.5, num_layers=12))
    with pytest.raises(ValueError, match="custom_keys\\['offsets'\\]"):
        LayerDecayOptimWrapperConstructor(optim, dict(decay_rate=0.7,
                                                      custom_keys=dict(offsets=dict(lr=0.1))))


def _groups(paramwise_cfg: dict) -> dict[str, dict]:
    register_all_modules()
    model = TinyDetector()
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
        constructor='LayerDecayOptimWrapperConstructor', paramwise_cfg=paramwise_cfg))
    return {name: group for group in wrapper.optimizer.param_groups
            for name in group['param_names']}


def test_depth_comes_from_the_model_and_a_wrong_num_layers_is_named():
    from_model = _groups(dict(decay_rate=RATE))
    from_cfg = _groups(dict(decay_rate=RATE, num_layers=DEPTH))
    assert {n: g['lr'] for n, g in from_model.items()} == {n: g['lr'] for n, g in from_cfg.items()}
    with pytest.raises(ValueError, match=f'num_layers=5 but the backbone has {DEPTH} blocks'):
        _groups(dict(decay_rate=RATE, num_layers=5))


def test_custom_keys_multiply_the_layer_lr_and_weight_decay():
    groups = _groups(dict(decay_rate=RATE, custom_keys={
        'neck': dict(lr_mult=0.1, decay_mult=0.5), 'blocks.1.mlp': dict(lr_mult=2.0),
        'blocks.1.mlp.fc2': dict(lr_mult=3.0)}))
    assert groups['neck.weight']['lr'] == pytest.approx(LR * 0.1)
    assert groups['neck.weight']['weight_decay'] == pytest.approx(WD * 0.5)
    assert groups['neck.bias']['weight_decay'] == 0.0  # no-decay parameters stay at zero
    # Layer decay and the multiplier compose; the longest matching key wins.
    assert groups['backbone.blocks.1.mlp.fc1.weight']['lr'] == pytest.approx(LR * RATE * 2.0)
    assert groups['backbone.blocks.1.mlp.fc2.weight']['lr'] == pytest.approx(LR * RATE * 3.0)
    assert groups['backbone.blocks.1.attn.qkv.weight']['lr'] == pytest.approx(LR * RATE)
    assert groups['head.blocks.0.weight']['lr'] == pytest.approx(LR)

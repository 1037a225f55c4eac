"""Every registered position encoding, in its slot of a tiny ViT, at any input size.

Parametrized over ``POS_ENCODINGS`` itself: a PE registered later is tested here with no new
test. A PE class lists extra constructor arguments for these tests in ``TEST_CONFIGS`` (a
tuple of dicts, one test variant each; declared on ``base.PosEncoding``: one variant with none).
"""
import pytest
import torch
from torch.nn import functional as F

import vitdense.models  # noqa: F401  (registers the PEs)
from vitdense.models.backbones import ViT
from vitdense.models.pos_encodings import (
    AttentionPosEncoding,
    ConditionalPosEncoding,
    ResampleCache,
    ResampleMode,
    TokenPosEncoding,
)
from vitdense.registry import POS_ENCODINGS

SLOTS = ((TokenPosEncoding, 'pos_embed'), (ConditionalPosEncoding, 'cond_pos_enc'),
         (AttentionPosEncoding, 'attn_pos_enc'))
PATCH, WINDOW, IMG = 8, 4, (48, 48)  # reference grid 6 x 6
SIZES = {'reference': IMG, 'smaller': (24, 40), 'larger': (96, 80), 'non-square': (40, 72),
         'odd': (61, 75)}  # odd: 8 x 10 patches, neither 61 nor 10 a multiple of patch/window


def slot_of(cls: type) -> str:
    for base, slot in SLOTS:
        if issubclass(cls, base):
            return slot
    raise TypeError(f'{cls.__name__} subclasses none of the PE slot bases in '
                    f'vitdense/models/pos_encodings/base.py')


def registry_cases() -> list:
    cases = [pytest.param(None, {}, id='none')]
    for name, cls in sorted(POS_ENCODINGS.module_dict.items()):
        for i, extra in enumerate(cls.TEST_CONFIGS):
            cases.append(pytest.param(name, extra, id=f'{name}-{i}'))
    return cases


def tiny_vit(name: str | None, extra: dict, window: int) -> ViT:
    pe = {} if name is None else {
        slot_of(POS_ENCODINGS.get(name)): dict(type=name, **extra)}
    return ViT('test', img_size=IMG, patch_size=PATCH, use_cls_token=True,
               num_register_tokens=1, window_size=window, global_indices=(1,),
               cond_pos_indices=(0, 1), **pe)


def pe_parameters(vit: ViT) -> dict[str, torch.nn.Parameter]:
    """Parameters that belong to position-encoding modules."""
    kinds = tuple(base for base, _ in SLOTS)
    names = [n for n, m in vit.named_modules() if isinstance(m, kinds)]
    return {f'{n}.{pn}': p for n in names for pn, p in vit.get_submodule(n).named_parameters()}


def test_registry_holds_every_family():
    expected = {'LearnedAbsolutePE', 'SinCos2dPE', 'WindowTiledAbsolutePE', 'RelPosBiasPE',
                'DecomposedRelPosPE', 'IRPE', 'ConditionalPEG', 'RoPE2d'}
    assert expected <= set(POS_ENCODINGS.module_dict)


@pytest.mark.parametrize('size', list(SIZES.values()), ids=list(SIZES))
@pytest.mark.parametrize('window', [0, WINDOW], ids=['global', 'windowed'])
@pytest.mark.parametrize('name,extra', registry_cases())
def test_forward_backward_at_any_size(name, extra, window, size):
    torch.manual_seed(0)
    vit = tiny_vit(name, extra, window)
    out = vit(torch.randn(1, 3, *size))['p3']
    assert out.shape == (1, 32, -(-size[0] // PATCH), -(-size[1] // PATCH))
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    params = pe_parameters(vit)
    missing = [n for n, p in params.items()
               if p.requires_grad and (p.grad is None or not p.grad.abs().sum())]
    assert not missing, f'no gradient reaches {missing}'
    assert all(torch.isfinite(p.grad).all() for p in params.values() if p.grad is not None)


@pytest.mark.parametrize('name,extra', registry_cases())
def test_eval_caches_per_size(name, extra, monkeypatch):
    """A second eval forward at the same size resamples nothing again, and gives the same."""
    computed = []
    original_get, original_interpolate = ResampleCache.get, F.interpolate

    def counting_get(self, module, key, fn):
        return original_get(self, module, key, lambda: computed.append(key) or fn())

    def counting_interpolate(*args, **kwargs):
        computed.append('interpolate')
        return original_interpolate(*args, **kwargs)

    monkeypatch.setattr(ResampleCache, 'get', counting_get)
    monkeypatch.setattr(F, 'interpolate', counting_interpolate)
    vit = tiny_vit(name, extra, WINDOW).eval()
    x = torch.randn(1, 3, *SIZES['odd'])
    first = vit(x)['p3']
    n_first = len(computed)
    second = vit(x)['p3']
    assert len(computed) == n_first, f'recomputed {computed[n_first:]}'
    torch.testing.assert_close(first, second, rtol=0, atol=0)


@pytest.mark.parametrize('name,extra', [c for c in registry_cases() if c.values[0]])
def test_declared_attributes(name, extra):
    """What the loader and these tests read is there, with the values the ViT gave."""
    vit = tiny_vit(name, extra, WINDOW)
    token = vit.pos_embed
    if token is not None:
        assert token.ref_grid == vit.ref_grid
        assert isinstance(token.prefix_entries, int) and token.prefix_entries >= 0
        assert token.mode is None or isinstance(token.mode, ResampleMode)
    for i, block in enumerate(vit.blocks):
        pe = block.attn.pos_enc
        if pe is not None:
            windowed = i in vit.window_indices
            assert pe.ref_grid == ((WINDOW, WINDOW) if windowed else vit.ref_grid)
            assert isinstance(type(pe).RELATIVE, bool)


def test_window_size_reaches_token_pes_that_take_it():
    vit = ViT('test', img_size=IMG, patch_size=PATCH, window_size=3,
              pos_embed=dict(type='WindowTiledAbsolutePE'))
    assert vit.pos_embed.window_size == 3
    with pytest.raises(ValueError, match="window_size=4 but the ViT's windowed blocks use "
                                         'window_size=3'):
        ViT('test', img_size=IMG, patch_size=PATCH, window_size=3,
            pos_embed=dict(type='WindowTiledAbsolutePE', window_size=4))
    with pytest.raises(ValueError, match='set pos_embed.window_size'):
        ViT('test', img_size=IMG, patch_size=PATCH, pos_embed=dict(type='WindowTiledAbsolutePE'))
    # a PE that does not take window_size is built as before, in a windowed ViT too
    assert ViT('test', img_size=IMG, patch_size=PATCH, window_size=3,
               pos_embed=dict(type='LearnedAbsolutePE')).pos_embed.ref_grid == (6, 6)

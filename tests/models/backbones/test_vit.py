import pytest
import torch
from torch import nn

from vitdense.models.backbones import VIT_SIZES, ViT
from vitdense.models.heads.seg import default_in_features
from vitdense.structures import ShapeSpec


@pytest.mark.parametrize('hw', [(61, 93), (64, 64), (17, 130)])
@pytest.mark.parametrize('window', [0, 3])
@pytest.mark.parametrize('cls', [False, True])
def test_output_dict_matches_output_shape(hw, window, cls):
    vit = ViT('test', img_size=(64, 96), patch_size=16, window_size=window, global_indices=(1,),
              pos_embed=dict(type='LearnedAbsolutePE', prefix_entries=int(cls)),
              use_cls_token=cls, out_cls_token=cls, out_indices=(0, -1))
    outs = vit(torch.randn(2, 3, *hw))
    shapes = vit.output_shape()
    tokens = {'b0_cls', 'b1_cls'} if cls else set()
    assert set(outs) == set(shapes) == {'b0', 'b1', 'p4'} | tokens
    assert outs['p4'] is outs['b1']  # the stride key is the last block's map, not a copy
    for name, out in outs.items():
        spec = shapes[name]
        if name in tokens:
            assert spec == ShapeSpec(32, 0) and out.shape == (2, 32)
        else:
            assert spec == ShapeSpec(32, 16)
            assert out.shape == (2, spec.channels, -(-hw[0] // 16), -(-hw[1] // 16))
        assert torch.isfinite(out).all()
    assert default_in_features(shapes) == ('p4',)  # what reads "every map" sees each once


def test_cls_outputs_are_the_normed_cls_token_of_each_block():
    vit = ViT('test', img_size=(32, 32), use_cls_token=True, num_register_tokens=2,
              out_cls_token=True, out_indices=(0, 1)).eval()
    for norm in vit.out_norms.values():  # not the identity init, so a missing norm shows
        nn.init.normal_(norm.weight)
        nn.init.normal_(norm.bias)
    seen = {}
    for i, block in enumerate(vit.blocks):
        block.register_forward_hook(lambda m, args, out, i=i: seen.__setitem__(i, out))
    outs = vit(torch.randn(3, 3, 29, 45))
    for i in (0, 1):
        expected = vit.out_norms[str(i)](seen[i][:, 0])  # (B, dim): the cls token leads
        torch.testing.assert_close(outs[f'b{i}_cls'], expected)
    assert not torch.allclose(outs['b0_cls'], outs['b1_cls'])


def test_cls_output_needs_a_cls_token():
    with pytest.raises(ValueError, match='use_cls_token.*out_cls_token|out_cls_token.*use_cls'):
        ViT('test', out_cls_token=True)
    assert 'b1_cls' not in ViT('test', use_cls_token=True).output_shape()


class _ClashStem(nn.Module):
    """A stem whose extra map takes the ViT's own stride key."""

    stride = 8

    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, 8, stride=8)

    def extra_output_shape(self) -> dict[str, ShapeSpec]:
        return {'p3': ShapeSpec(4, 8)}


def test_stem_extra_map_may_not_take_the_vit_key():
    with pytest.raises(ValueError, match=r"\['p3'\]"):
        ViT('test', stem=dict(type=_ClashStem))


@pytest.mark.parametrize('cls,regs', [(True, 0), (True, 2), (False, 3)])
def test_every_parameter_gets_a_gradient(cls, regs):
    vit = ViT('test', img_size=(32, 48), patch_size=8, use_cls_token=cls,
              num_register_tokens=regs, window_size=2, global_indices=(0,), layer_scale=0.1,
              drop_path_rate=0.1, pos_embed=dict(type='LearnedAbsolutePE',
                                                 prefix_entries=int(cls)),
              out_indices=(0, 1), out_cls_token=cls)
    outs = vit(torch.randn(2, 3, 29, 51))
    sum(out.square().mean() for name, out in outs.items() if name != 'p3').backward()
    missing = [n for n, p in vit.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing


def test_checkpointing_gives_identical_gradients():
    torch.manual_seed(0)
    a = ViT('test', img_size=(32, 32), pos_embed=dict(type='LearnedAbsolutePE'))
    b = ViT('test', img_size=(32, 32), pos_embed=dict(type='LearnedAbsolutePE'),
            with_checkpoint=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 45, 37)
    for m in (a, b):
        m(x)['p4'].sum().backward()
    for (n, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, msg=n)


def test_prefix_tokens_do_not_change_windowed_attention_of_patches():
    """Windowed blocks ignore prefix tokens, so a cls token only matters through global blocks."""
    torch.manual_seed(0)
    plain = ViT('test', img_size=(32, 32), window_size=2, global_indices=())
    with_cls = ViT('test', img_size=(32, 32), window_size=2, global_indices=(),
                   use_cls_token=True)
    with_cls.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(plain(x)['p4'], with_cls(x)['p4'])


def test_bad_indices_and_arch_fail_clearly():
    with pytest.raises(ValueError, match='out_indices'):
        ViT('test', out_indices=(5,))
    with pytest.raises(KeyError, match='known'):
        ViT('gigantic')


def test_size_table_widths_divide_into_heads():
    for name, size in VIT_SIZES.items():
        assert size.dim % size.num_heads == 0, name


def test_conv_stem_feeds_the_same_transformer():
    vit = ViT('test', img_size=(64, 64), stem=dict(type='ConvStem', stride=8, base_channels=8),
              pos_embed=dict(type='LearnedAbsolutePE'))
    out = vit(torch.randn(1, 3, 61, 93))
    assert set(out) == {'b1', 'p3'} and out['p3'].shape == (1, 32, 8, 12)
    assert vit.output_shape()['p3'].stride == 8


def test_residual_conv_blocks_start_as_identity_and_train():
    torch.manual_seed(0)
    plain = ViT('test', img_size=(32, 32), window_size=2, global_indices=(1,), use_cls_token=True)
    res = ViT('test', img_size=(32, 32), window_size=2, global_indices=(1,), use_cls_token=True,
              residual_indices=(0,))
    res.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(2, 3, 45, 61)
    torch.testing.assert_close(res(x)['p4'], plain(x)['p4'])
    res(x)['p4'].sum().backward()
    assert res.res_convs['0'].norm3.weight.grad.abs().sum() > 0


def hybrid_vit(frozen_stages: int) -> ViT:
    """A 2-block ViT on a BatchNorm stem, with a cls token, a token PE and a conditional PE."""
    return ViT('test', img_size=(64, 64), use_cls_token=True, frozen_stages=frozen_stages,
               stem=dict(type='BasicBlockStem', widths=(8, 8, 8), depths=(1, 1, 1),
                         stem_channels=8),
               pos_embed=dict(type='LearnedAbsolutePE', prefix_entries=1),
               cond_pos_enc=dict(type='ConditionalPEG'), cond_pos_indices=(0, 1))


@pytest.mark.parametrize('frozen_stages, trained', [
    (-1, {'patch_embed', 'cls_token', 'pos_embed', 'blocks.0', 'cond_pos.0', 'blocks.1',
          'cond_pos.1', 'out_norms'}),
    (0, {'blocks.0', 'cond_pos.0', 'blocks.1', 'cond_pos.1', 'out_norms'}),
    (1, {'blocks.1', 'cond_pos.1', 'out_norms'}),
    (2, set()),
    ('all', set())])
def test_frozen_stages_fix_the_stem_tokens_and_first_blocks(frozen_stages, trained):
    torch.manual_seed(0)
    vit = hybrid_vit(frozen_stages).train()
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    params = [p for p in vit.parameters() if p.requires_grad]
    if params:
        opt = torch.optim.SGD(params, lr=0.1)
        vit(torch.randn(2, 3, 64, 64))['p4'].square().mean().backward()
        opt.step()
    else:  # everything frozen: nothing in the graph needs a gradient
        assert not vit(torch.randn(2, 3, 64, 64))['p4'].requires_grad
    changed = {k for k, v in vit.state_dict().items() if not torch.equal(v, before[k])}
    # Which parts moved: trained parameters, and BN statistics where the stem trains.
    prefixes = {k.split('.')[0] if k.split('.')[0] in ('patch_embed', 'cls_token', 'pos_embed',
                                                       'out_norms') else '.'.join(k.split('.')[:2])
                for k in changed}
    assert prefixes == trained
    for p in vit.parameters():
        assert (p.grad is None) == (not p.requires_grad)
    bns = [m for m in vit.patch_embed.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(bn.training == (frozen_stages == -1) for bn in bns)


def test_frozen_stages_out_of_range_is_refused():
    with pytest.raises(ValueError, match='frozen_stages=3 is outside -1'):
        ViT('test', frozen_stages=3)
    with pytest.raises(ValueError, match="frozen_stages=everything is outside -1"):
        ViT('test', frozen_stages='everything')

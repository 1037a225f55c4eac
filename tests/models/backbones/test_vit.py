import pytest
import torch

from vitdense.models.backbones import VIT_SIZES, ViT


@pytest.mark.parametrize('hw', [(61, 93), (64, 64), (17, 130)])
@pytest.mark.parametrize('window', [0, 3])
def test_output_dict_matches_output_shape(hw, window):
    vit = ViT('test', img_size=(64, 96), patch_size=16, window_size=window, global_indices=(1,),
              pos_embed=dict(type='LearnedAbsolutePE'), out_indices=(0, -1))
    outs = vit(torch.randn(2, 3, *hw))
    shapes = vit.output_shape()
    assert set(outs) == set(shapes) == {'b0', 'p4'}
    for name, out in outs.items():
        assert out.shape == (2, shapes[name].channels, -(-hw[0] // 16), -(-hw[1] // 16))
        assert torch.isfinite(out).all()


@pytest.mark.parametrize('cls,regs', [(True, 0), (True, 2), (False, 3)])
def test_every_parameter_gets_a_gradient(cls, regs):
    vit = ViT('test', img_size=(32, 48), patch_size=8, use_cls_token=cls,
              num_register_tokens=regs, window_size=2, global_indices=(0,), layer_scale=0.1,
              drop_path_rate=0.1, pos_embed=dict(type='LearnedAbsolutePE',
                                                 prefix_entries=int(cls)))
    out = vit(torch.randn(2, 3, 29, 51))['p3']
    out.square().mean().backward()
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
    assert set(out) == {'p3'} and out['p3'].shape == (1, 32, 8, 12)
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

import pytest
import torch

from vitdense.models.backbones import ViT
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

BLOCKS = ('b0', 'b1', 'b2', 'b3')


def vit4() -> ViT:
    return ViT(dict(dim=32, depth=4, num_heads=2), img_size=(64, 96), use_cls_token=True,
               out_cls_token=True, out_indices=(0, 1, 2, 3))


@pytest.mark.parametrize('hw', [(61, 93), (17, 130), (64, 64)])
@pytest.mark.parametrize('upsample', ['deconv', 'bilinear'])
def test_levels_from_vit_blocks_for_odd_inputs(hw, upsample):
    vit = vit4()
    neck = MODELS.build(dict(type='MultiLevelNeck', in_features=BLOCKS, out_channels=24,
                             upsample=upsample), default_args=dict(input_shape=vit.output_shape()))
    shapes = neck.output_shape()
    assert shapes == {'p2': ShapeSpec(24, 4), 'p3': ShapeSpec(24, 8), 'p4': ShapeSpec(24, 16),
                      'p5': ShapeSpec(24, 32)}
    outs = neck(vit(torch.randn(2, 3, *hw)))
    h, w = -(-hw[0] // 16), -(-hw[1] // 16)  # the ViT's grid
    assert set(outs) == set(shapes)
    for name, scale in zip(('p2', 'p3', 'p4'), (4, 2, 1)):
        assert outs[name].shape == (2, 24, h * scale, w * scale), name
    # the halved level covers the whole image: ceil(H / 32), not floor of the grid
    assert outs['p5'].shape == (2, 24, -(-hw[0] // 32), -(-hw[1] // 32))
    assert all(torch.isfinite(o).all() for o in outs.values())


@pytest.mark.parametrize('upsample', ['deconv', 'bilinear'])
@pytest.mark.parametrize('norm', ['LN', 'GN', None])
def test_every_parameter_gets_a_gradient(upsample, norm):
    shape = {b: ShapeSpec(16, 16) for b in BLOCKS}
    neck = MODELS.build(dict(type='MultiLevelNeck', input_shape=shape, in_features=BLOCKS,
                             out_channels=32, norm=norm, upsample=upsample))
    feats = {b: torch.randn(2, 16, 3, 5) for b in BLOCKS}
    sum(o.square().mean() for o in neck(feats).values()).backward()
    missing = [n for n, p in neck.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing


def test_each_level_reads_its_own_input():
    shape = {b: ShapeSpec(8, 16) for b in BLOCKS}
    neck = MODELS.build(dict(type='MultiLevelNeck', input_shape=shape, in_features=BLOCKS,
                             out_channels=8)).eval()
    feats = {b: torch.randn(1, 8, 3, 5) for b in BLOCKS}
    out = neck(feats)
    moved = neck({**feats, 'b2': feats['b2'] + 1.0})  # b2 -> scale 1 -> p4
    assert not torch.allclose(out['p4'], moved['p4'])
    for name in ('p2', 'p3', 'p5'):
        torch.testing.assert_close(out[name], moved[name])


def test_errors_name_the_keys():
    shape = vit4().output_shape()
    build = dict(type='MultiLevelNeck', input_shape={**shape, 'p3': ShapeSpec(32, 8)})
    with pytest.raises(KeyError, match='b7'):
        MODELS.build(dict(build, in_features=('b0', 'b7'), scale_factors=(2.0, 1.0)))
    with pytest.raises(ValueError, match=r"'b0': 16.*'p3': 8"):
        MODELS.build(dict(build, in_features=('b0', 'p3'), scale_factors=(2.0, 1.0)))
    with pytest.raises(ValueError, match='token'):
        MODELS.build(dict(build, in_features=('b0_cls', 'b1_cls'), scale_factors=(2.0, 1.0)))
    with pytest.raises(ValueError, match=r"'b0' and 'b1' both give level p4"):
        MODELS.build(dict(build, in_features=('b0', 'b1'), scale_factors=(1.0, 1.0)))
    with pytest.raises(ValueError, match='one scale factor per input'):
        MODELS.build(dict(build, in_features=('b0', 'b1')))
    with pytest.raises(ValueError, match='scale_factors'):
        MODELS.build(dict(build, in_features=('b0',), scale_factors=(3.0,)))
    with pytest.raises(ValueError, match='upsample'):
        MODELS.build(dict(build, in_features=('b0',), scale_factors=(2.0,), upsample='nearest'))

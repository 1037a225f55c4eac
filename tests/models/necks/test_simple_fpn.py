import pytest
import torch

from vitdense.models.necks import SimpleFPN
from vitdense.structures import ShapeSpec


def test_levels_strides_and_widths():
    neck = SimpleFPN({'p4': ShapeSpec(32, 16)}, out_channels=24, top_block=True)
    shapes = neck.output_shape()
    assert {k: v.stride for k, v in shapes.items()} == {'p2': 4, 'p3': 8, 'p4': 16, 'p5': 32,
                                                        'p6': 64}
    outs = neck({'p4': torch.randn(2, 32, 5, 7)})
    assert outs['p2'].shape == (2, 24, 20, 28)
    assert outs['p5'].shape == (2, 24, 3, 4)  # halving keeps the last odd row and column
    assert outs['p6'].shape == (2, 24, 2, 2)
    assert all(o.shape[1] == shapes[k].channels for k, o in outs.items())


def test_unknown_input_and_scale_fail_clearly():
    with pytest.raises(KeyError, match='p5'):
        SimpleFPN({'p4': ShapeSpec(32, 16)}, in_feature='p5')
    with pytest.raises(ValueError, match='scale_factors'):
        SimpleFPN({'p4': ShapeSpec(32, 16)}, scale_factors=(3.0,))
    with pytest.raises(ValueError, match='token'):
        SimpleFPN({'p4': ShapeSpec(32, 16), 'b1_cls': ShapeSpec(32, 0)}, in_feature='b1_cls')


def test_lateral_feature_joins_its_level_and_only_it():
    shapes = {'p4': ShapeSpec(32, 16), 'p3': ShapeSpec(12, 8)}
    neck = SimpleFPN(shapes, out_channels=24, scale_factors=(2.0, 1.0),
                     lateral_features=('p3',)).eval()
    feats = {'p4': torch.randn(1, 32, 5, 7), 'p3': torch.randn(1, 12, 10, 14)}
    out = neck(feats)
    moved = neck({**feats, 'p3': feats['p3'] + 1.0})
    assert not torch.allclose(out['p3'], moved['p3'])
    torch.testing.assert_close(out['p4'], moved['p4'])
    # A stem map padded to a larger grid than the deconvolved one is cropped, not a crash.
    out = neck({'p4': torch.randn(1, 32, 5, 7), 'p3': torch.randn(1, 12, 11, 15)})
    assert out['p3'].shape == (1, 24, 10, 14)


def test_lateral_feature_must_match_a_level():
    with pytest.raises(KeyError, match='lateral'):
        SimpleFPN({'p4': ShapeSpec(32, 16), 'p2': ShapeSpec(8, 4)}, scale_factors=(1.0,),
                  lateral_features=('p2',))

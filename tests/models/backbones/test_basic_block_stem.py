import pytest
import torch

from vitdense.models.backbones import BasicBlockStem, StemBackbone, ViT
from vitdense.models.necks import SimpleFPN


def test_stem_grid_extras_and_odd_sizes():
    stem = BasicBlockStem(dim=32, widths=(8, 16, 24), depths=(1, 1, 1), stem_channels=8,
                          extra_outputs=('p2', 'p3'))
    assert stem.stride == 16
    tokens, extras = stem(torch.randn(2, 3, 61, 93))
    assert tokens.shape == (2, 32, 4, 6)
    assert extras['p2'].shape == (2, 8, 16, 24) and extras['p3'].shape == (2, 16, 8, 12)
    assert {k: (v.channels, v.stride) for k, v in stem.extra_output_shape().items()} == {
        'p2': (8, 4), 'p3': (16, 8)}


def test_stem_rejects_unknown_extra_and_mismatched_stages():
    with pytest.raises(ValueError, match='p4'):
        BasicBlockStem(widths=(8, 16, 24), depths=(1, 1, 1), extra_outputs=('p4',))
    with pytest.raises(ValueError, match='depth'):
        BasicBlockStem(widths=(8, 16), depths=(1,))


def test_hybrid_vit_passes_stem_maps_to_a_lateral_neck_and_every_param_learns():
    vit = ViT(arch=dict(dim=32, depth=2, num_heads=2), img_size=(64, 64),
              stem=dict(type='BasicBlockStem', widths=(8, 16, 24), depths=(1, 1, 1),
                        stem_channels=8, extra_outputs=('p3',)),
              pos_embed=dict(type='LearnedAbsolutePE'))
    neck = SimpleFPN(vit.output_shape(), out_channels=16, scale_factors=(2.0, 1.0),
                     lateral_features=('p3',))
    outs = neck(vit(torch.randn(2, 3, 61, 93)))
    assert outs['p3'].shape == (2, 16, 8, 12) and outs['p4'].shape == (2, 16, 4, 6)
    sum(o.sum() for o in outs.values()).backward()
    # The last BN weight of every block starts at zero, so its conv gets no gradient at step 0.
    silent = [n for n, p in list(vit.named_parameters()) + list(neck.named_parameters())
              if p.grad is None and 'conv2' not in n]
    assert not silent


def test_stem_backbone_is_the_cnn_reference():
    cnn = StemBackbone(dict(type='BasicBlockStem', widths=(8, 16, 24), depths=(1, 1, 1),
                            extra_outputs=('p3',)), dim=20)
    shapes = cnn.output_shape()
    assert {k: (v.channels, v.stride) for k, v in shapes.items()} == {'p4': (20, 16),
                                                                       'p3': (16, 8)}
    outs = cnn(torch.randn(1, 3, 61, 93))
    assert outs['p4'].shape == (1, 20, 4, 6) and outs['p3'].shape == (1, 16, 8, 12)


def test_vit_arch_dict_and_its_error():
    vit = ViT(arch=dict(dim=24, depth=3, num_heads=2, mlp_ratio=2.0), img_size=(32, 32))
    assert len(vit.blocks) == 3 and vit.embed_dim == 24
    with pytest.raises(ValueError, match='num_heads'):
        ViT(arch=dict(dim=24, depth=3))

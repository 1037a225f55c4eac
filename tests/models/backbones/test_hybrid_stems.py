"""Hybrid stems: the R50-style ResNet stem (parity with HF BiT) and the spatial prior stem."""
import re

import pytest
import torch

from vitdense.models.backbones import ViT
from vitdense.models.backbones.hybrid_stems import (
    ResNetHybridStem,
    SpatialPriorStem,
    StdConv2dSame,
    pad_same,
)
from vitdense.utils.convert import convert_checkpoint

TINY_RESNET = dict(type='ResNetHybridStem', depths=(1, 2, 1), widths=(32, 64, 128),
                   stem_channels=16, num_groups=8)
SIZES = [(61, 93), (64, 64), (50, 77)]


def test_pad_same_gives_ceil_outputs_and_tf_split():
    x = torch.ones(1, 1, 64, 61)
    padded = pad_same(x, kernel=7, stride=2)  # H: total 5 -> (2, 3); W: total 6 -> (3, 3)
    assert padded.shape[-2:] == (69, 67)
    assert padded[0, 0, :2].sum() == 0 and padded[0, 0, 2].sum() > 0
    conv = StdConv2dSame(1, 4, 3, stride=2)
    assert conv(torch.randn(1, 1, 61, 93)).shape[-2:] == (31, 47)


def test_weight_standardisation_ignores_filter_scale_and_shift():
    conv = StdConv2dSame(3, 8, 3)
    x = torch.randn(2, 3, 11, 13)
    before = conv(x)
    with torch.no_grad():
        conv.weight.mul_(torch.rand(8, 1, 1, 1) * 5 + 0.1).add_(torch.randn(8, 1, 1, 1))
    torch.testing.assert_close(conv(x), before, atol=1e-4, rtol=1e-4)


def test_resnet_stem_matches_hf_bit_backbone():
    """HF ``BitBackbone`` (bottleneck, 'same' padding, WS eps 1e-8, GN) is the R50 trunk."""
    transformers = pytest.importorskip('transformers')
    cfg = transformers.BitConfig(num_channels=3, embedding_size=16, hidden_sizes=[32, 64, 128],
                                 depths=[1, 2, 1], layer_type='bottleneck', global_padding='same',
                                 num_groups=8, out_features=['stage3'],
                                 embedding_dynamic_padding=True)
    torch.manual_seed(0)
    bit = transformers.BitBackbone(cfg).eval()
    with torch.no_grad():
        for p in bit.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    sd = {}
    for key, value in bit.state_dict().items():
        key = key.replace('bit.embedder.convolution', 'backbone.stem.conv')
        key = key.replace('bit.embedder.norm', 'backbone.stem.norm')
        sd[re.sub(r'^bit\.encoder\.stages\.(\d+)\.layers\.(\d+)\.',
                  r'backbone.stages.\1.blocks.\2.', key)] = value
    stem = ResNetHybridStem(dim=32, depths=(1, 2, 1), widths=(32, 64, 128), stem_channels=16,
                            num_groups=8).eval()
    result = stem.load_state_dict(sd, strict=False)
    assert result.unexpected_keys == [] and result.missing_keys == ['proj.weight', 'proj.bias']
    for h, w in SIZES:
        x = torch.randn(2, 3, h, w)
        with torch.no_grad():
            ref = bit(x).feature_maps[-1]
            ours = stem.backbone(x)
        # ~10 weight-standardised convs in fp32; outputs are of order 5
        torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize('hw', SIZES)
def test_resnet_stem_in_vit_shapes_and_gradients(hw):
    vit = ViT(arch='test', img_size=(64, 64), stem=TINY_RESNET,
              pos_embed=dict(type='LearnedAbsolutePE'))
    for m in vit.modules():  # zero-init last norms would block gradients to the block convs
        if isinstance(m, torch.nn.GroupNorm):
            torch.nn.init.ones_(m.weight)
    assert vit.output_shape()['p4'].stride == 16 and vit.pos_embed.ref_grid == (4, 4)
    out = vit(torch.randn(2, 3, *hw))['p4']
    assert out.shape == (2, 32, -(-hw[0] // 16), -(-hw[1] // 16))
    out.square().mean().backward()
    for name, p in vit.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if name.startswith('patch_embed'):
            assert p.grad.abs().sum() > 0, name


def test_default_resnet_stem_is_r50_first_three_stages():
    stem = ResNetHybridStem()
    assert stem.stride == 16 and stem.out_channels == 768
    assert [len(s.blocks) for s in stem.backbone.stages] == [3, 4, 9]
    # timm's vit_base_r50_s16_384 has 98.95M parameters: ViT-B/16's 86.57M, less its 0.59M
    # patch embedding, plus 0.29M more table rows at 384, plus this stem's 12.68M.
    assert sum(p.numel() for p in stem.parameters()) == 12_682_048
    with pytest.raises(ValueError, match='not divisible by num_groups=32'):
        ResNetHybridStem(widths=(48, 96, 192))


def test_timm_hybrid_checkpoint_keys_convert_and_load():
    vit = ViT(arch='test', img_size=(64, 64), stem=TINY_RESNET, use_cls_token=True,
              pos_embed=dict(type='LearnedAbsolutePE', prefix_entries=1))
    sd = vit.state_dict()
    timm = {k: v for k, v in sd.items() if k.startswith(('blocks.', 'patch_embed.'))}
    assert 'patch_embed.backbone.stages.0.blocks.0.downsample.conv.weight' in timm  # timm names
    timm.update(cls_token=sd['cls_token'], pos_embed=sd['pos_embed.table'])
    converted, meta = convert_checkpoint(timm, 'timm')
    assert meta['unconverted'] == []
    result = vit.load_state_dict(converted, strict=False)
    assert result.unexpected_keys == []
    assert all(k.startswith('out_norms') for k in result.missing_keys)


@pytest.mark.parametrize('hw', SIZES)
def test_spatial_prior_stem_shapes(hw):
    stem = SpatialPriorStem(dim=32, channels=8)
    tokens, extra = stem(torch.randn(2, 3, *hw))
    h, w = hw
    assert tokens.shape == (2, 32, -(-h // 16), -(-w // 16))
    for name, spec in stem.extra_output_shape().items():
        assert spec.channels == 32
        assert extra[name].shape == (2, 32, -(-h // spec.stride), -(-w // spec.stride)), name


def test_spatial_prior_stem_reaches_the_neck_through_the_vit():
    vit = ViT(arch='test', img_size=(64, 64), pos_embed=dict(type='LearnedAbsolutePE'),
              stem=dict(type='SpatialPriorStem', channels=8))
    shapes = vit.output_shape()
    assert {'p2', 'p3', 'p4'} <= set(shapes)
    out = vit(torch.randn(1, 3, 61, 93))
    for name in ('p2', 'p3', 'p4'):
        spec = shapes[name]
        assert out[name].shape == (1, spec.channels, -(-61 // spec.stride), -(-93 // spec.stride))

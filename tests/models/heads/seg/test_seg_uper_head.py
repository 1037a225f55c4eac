"""UPerHead and FCNHead: shapes on odd non-square pyramids, loss, gradients, errors, and parity
with HF's UperNetHead / UperNetFCNHead."""
import re

import pytest
import torch
from mmengine.structures import PixelData

from vitdense.models.heads.seg import FCNHead, UPerHead
from vitdense.structures import SegDataSample, ShapeSpec

# A 100 x 148 image's pyramid (strides 4 to 32, each side ceil(side / 2) of the finer one), with
# widths that differ per level so that a level read in the wrong order cannot fit.
SHAPES = {'p2': ShapeSpec(8, 4), 'p3': ShapeSpec(12, 8), 'p4': ShapeSpec(16, 16),
          'p5': ShapeSpec(20, 32)}
SIZES = {'p2': (25, 37), 'p3': (13, 19), 'p4': (7, 10), 'p5': (4, 5)}


def _feats(batch: int = 2, shapes=SHAPES, sizes=SIZES) -> dict[str, torch.Tensor]:
    return {n: torch.randn(batch, s.channels, *sizes[n]) for n, s in shapes.items()}


def _samples(batch: int, size=(100, 148), num_classes: int = 5) -> list[SegDataSample]:
    samples = []
    for _ in range(batch):
        label = torch.randint(0, num_classes, size)
        label[:10] = 255  # ignored rows
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None])
        samples.append(sample)
    return samples


def _check_train_step(head: torch.nn.Module, feats: dict[str, torch.Tensor]) -> None:
    """Finite loss, and a non-zero gradient on every parameter."""
    head.train()
    losses = head.loss(feats, _samples(2, num_classes=head.num_classes))
    assert set(losses) == {'loss_ce'} and torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
        assert torch.isfinite(param.grad).all(), name


@pytest.mark.parametrize('norm', ['BN', 'GN', None])
def test_uper_head_shapes_loss_gradients(norm):
    torch.manual_seed(0)
    head = UPerHead(SHAPES, num_classes=5, channels=16, norm=norm)
    assert head.in_features == ('p2', 'p3', 'p4', 'p5') and head.out_stride == 4
    feats = _feats()
    head.eval()
    with torch.no_grad():
        logits = head(feats)
    assert logits.shape == (2, 5, 25, 37) and torch.isfinite(logits).all()
    _check_train_step(head, feats)


def test_uper_head_over_blocks_of_one_stride():
    """Without a neck: four ViT blocks, all at stride 16 (the PPM on the last)."""
    torch.manual_seed(0)
    shapes = {f'b{i}': ShapeSpec(16, 16) for i in (2, 5, 8, 11)}
    head = UPerHead(shapes, num_classes=3, in_features=tuple(shapes), channels=8,
                    pool_scales=(1, 3))
    feats = {n: torch.randn(2, 16, 7, 9) for n in shapes}
    assert head(feats).shape == (2, 3, 7, 9) and head.out_stride == 16
    _check_train_step(head, feats)


@pytest.mark.parametrize('num_convs,concat_input', [(0, True), (1, False), (2, True)])
def test_fcn_head_shapes_loss_gradients(num_convs, concat_input):
    torch.manual_seed(0)
    channels = 16 if num_convs == 0 else 8
    head = FCNHead(SHAPES, num_classes=5, in_features=('p4',), channels=channels,
                   num_convs=num_convs, concat_input=concat_input)
    feats = _feats()
    assert head(feats).shape == (2, 5, 7, 10) and head.out_stride == 16
    _check_train_step(head, feats)


def test_fcn_head_loss_weight_from_its_loss_decode():
    """The auxiliary weight is the head's own: 0.4 x the loss of the same head at weight 1."""
    torch.manual_seed(0)
    plain = FCNHead(SHAPES, num_classes=5, in_features=('p4',), channels=8, dropout=0.0)
    aux = FCNHead(SHAPES, num_classes=5, in_features=('p4',), channels=8, dropout=0.0,
                  loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4))
    aux.load_state_dict(plain.state_dict())
    plain.eval(), aux.eval()
    feats, samples = _feats(), _samples(2)
    torch.testing.assert_close(aux.loss(feats, samples)['loss_ce'],
                               0.4 * plain.loss(feats, samples)['loss_ce'])


def test_errors_name_the_bad_key():
    with pytest.raises(KeyError, match="'p6'"):
        UPerHead(SHAPES, num_classes=5, in_features=('p4', 'p6'))
    with pytest.raises(ValueError, match=r"finest first.*'p5': 32"):
        UPerHead(SHAPES, num_classes=5, in_features=('p5', 'p2'))
    with pytest.raises(ValueError, match="'p2', 'p3'"):
        FCNHead(SHAPES, num_classes=5, in_features=('p2', 'p3'))
    with pytest.raises(ValueError, match="one map"):
        FCNHead(SHAPES, num_classes=5)  # the default reads all four p* maps
    with pytest.raises(ValueError, match="'p4'.*width 16"):
        FCNHead(SHAPES, num_classes=5, in_features=('p4',), channels=8, num_convs=0)
    head = UPerHead(SHAPES, num_classes=5, channels=8)
    feats = _feats()
    del feats['p3']
    with pytest.raises(KeyError, match=re.escape("['p3']")):
        head(feats)


# ---------------------------------------------------------------------------------------------
# Parity with HF transformers' UperNetHead and UperNetFCNHead (test-only converter: HF's UperNet
# checkpoints have ConvNeXt / Swin / BEiT backbones that vitdense does not build, so only their
# decoders could be loaded, and nothing in the library needs that).

def convert_hf_upernet_heads(state_dict: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """HF ``UperNetForSemanticSegmentation`` keys -> (UPerHead, FCNHead) state dicts.

    ``{x}.conv`` / ``{x}.batch_norm`` (HF's conv module) are our ``{x}.0`` / ``{x}.1``; the PPM
    (``psp_modules.{j}.1``, ``bottleneck``) is ``ppm.{j}.1`` / ``ppm_bottleneck``; the backbone
    is left out.
    """
    heads: dict[str, dict] = {'decode_head.': {}, 'auxiliary_head.': {}}
    for key, value in state_dict.items():
        prefix = next((p for p in heads if key.startswith(p)), None)
        if prefix is None:
            continue
        key = key[len(prefix):]
        key = re.sub(r'\.conv\.', '.0.', key)
        key = re.sub(r'\.batch_norm\.', '.1.', key)
        key = re.sub(r'^psp_modules\.', 'ppm.', key)
        key = re.sub(r'^bottleneck\.', 'ppm_bottleneck.', key)
        heads[prefix][key] = value
    return heads['decode_head.'], heads['auxiliary_head.']


@pytest.mark.parametrize('concat_input', [True, False])
def test_parity_with_hf_upernet(concat_input, randomize):
    transformers = pytest.importorskip('transformers')
    torch.manual_seed(0)
    widths = [s.channels for s in SHAPES.values()]
    config = transformers.UperNetConfig(
        backbone_config=transformers.ConvNextConfig(
            num_channels=3, hidden_sizes=widths, depths=[1, 1, 1, 1],
            out_features=['stage1', 'stage2', 'stage3', 'stage4']),
        hidden_size=16, pool_scales=[1, 2, 3, 6], use_auxiliary_head=True,
        auxiliary_channels=8, auxiliary_num_convs=2, auxiliary_concat_input=concat_input,
        num_labels=5)
    hf = transformers.UperNetForSemanticSegmentation(config).eval()
    with torch.no_grad():
        randomize(hf)
    decode_sd, aux_sd = convert_hf_upernet_heads(hf.state_dict())
    ours = UPerHead(SHAPES, num_classes=5, channels=16, pool_scales=(1, 2, 3, 6)).eval()
    aux = FCNHead(SHAPES, num_classes=5, in_features=('p4',), channels=8, num_convs=2,
                  concat_input=concat_input).eval()  # HF's in_index=2: the third map
    ours.load_state_dict(decode_sd)
    aux.load_state_dict(aux_sd)
    feats = _feats()
    with torch.no_grad():
        expected = hf.decode_head(list(feats.values()))
        expected_aux = hf.auxiliary_head(list(feats.values()))
        assert expected.abs().amax() > 0.5 and expected_aux.abs().amax() > 0.5  # not all ~0
        torch.testing.assert_close(ours(feats), expected, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(aux(feats), expected_aux, atol=1e-5, rtol=1e-4)

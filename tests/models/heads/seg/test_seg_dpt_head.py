"""DPTHead: shapes on odd non-square grids, loss, gradients, errors, and parity with the neck and
head of HF's DPTForSemanticSegmentation."""
import re

import pytest
import torch
from mmengine.structures import PixelData

from vitdense.models.heads.seg import DPTHead
from vitdense.structures import SegDataSample, ShapeSpec

DIM = 32
BLOCKS = ('b0', 'b1', 'b2', 'b3')
SMALL = dict(reassemble_channels=(8, 12, 16, 24), channels=16)


def _shapes(cls_tokens: bool = True) -> dict[str, ShapeSpec]:
    """A ViT's output_shape(): four blocks at stride 16, with their cls tokens (stride 0)."""
    shapes = {n: ShapeSpec(DIM, 16) for n in BLOCKS}
    if cls_tokens:
        shapes.update({f'{n}_cls': ShapeSpec(DIM, 0) for n in BLOCKS})
    return shapes


def _feats(h: int, w: int, batch: int = 2) -> dict[str, torch.Tensor]:
    feats = {n: torch.randn(batch, DIM, h, w) for n in BLOCKS}
    feats.update({f'{n}_cls': torch.randn(batch, DIM) for n in BLOCKS})
    return feats


def _samples(batch: int, size: tuple[int, int], num_classes: int) -> list[SegDataSample]:
    samples = []
    for _ in range(batch):
        label = torch.randint(0, num_classes, size)
        label[:, :7] = 255  # ignored columns
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None])
        samples.append(sample)
    return samples


@pytest.mark.parametrize('readout', ['ignore', 'add', 'project'])
def test_dpt_head_odd_grid_shapes_loss_gradients(readout):
    """A 5 x 7 patch grid (an 80 x 112 image at stride 16): the 0.5 level is 3 x 4, every fused
    map is fitted to the next level (5 x 7, 10 x 14, 20 x 28, then 40 x 56), logits at stride 1."""
    torch.manual_seed(0)
    head = DPTHead(_shapes(readout != 'ignore'), num_classes=4, in_features=BLOCKS,
                   readout=readout, **SMALL)
    assert head.out_stride == 1
    feats = _feats(5, 7)
    head.eval()
    with torch.no_grad():
        logits = head(feats)
    assert logits.shape == (2, 4, 80, 112) and torch.isfinite(logits).all()
    head.train()
    losses = head.loss(feats, _samples(2, (80, 112), 4))
    assert torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
        assert torch.isfinite(param.grad).all(), name


def test_dpt_head_other_strides_and_factors():
    """Two levels of a stride-8 backbone, factors 2 and 1: logits at 8 / (4 * 2) = 1."""
    shapes = {'b3': ShapeSpec(DIM, 8), 'b7': ShapeSpec(DIM, 8)}
    head = DPTHead(shapes, num_classes=3, in_features=('b3', 'b7'), readout='ignore',
                   reassemble_channels=(8, 16), reassemble_factors=(2, 1), channels=8).eval()
    feats = {n: torch.randn(1, DIM, 9, 6) for n in shapes}
    assert head.out_stride == 1 and head(feats).shape == (1, 3, 72, 48)


def test_errors_name_the_bad_key():
    with pytest.raises(KeyError, match="'b0_cls'"):  # readout needs the cls tokens
        DPTHead(_shapes(cls_tokens=False), num_classes=3, in_features=BLOCKS, **SMALL)
    with pytest.raises(KeyError, match="'b9'"):
        DPTHead(_shapes(), num_classes=3, in_features=('b0', 'b1', 'b2', 'b9'), **SMALL)
    with pytest.raises(ValueError, match="'concat'"):
        DPTHead(_shapes(), num_classes=3, in_features=BLOCKS, readout='concat', **SMALL)
    with pytest.raises(ValueError, match=r'reassemble_channels \[8, 12\]'):
        DPTHead(_shapes(), num_classes=3, in_features=BLOCKS, reassemble_channels=(8, 12))
    with pytest.raises(ValueError, match=r'\[1.5, 0.3\]'):
        DPTHead(_shapes(), num_classes=3, in_features=BLOCKS,
                reassemble_factors=(4, 1.5, 1, 0.3), **SMALL)
    head = DPTHead(_shapes(), num_classes=3, in_features=BLOCKS, **SMALL)
    feats = _feats(4, 4)
    del feats['b2_cls']
    with pytest.raises(KeyError, match=re.escape("['b2_cls']")):
        head(feats)


# ---------------------------------------------------------------------------------------------
# Parity with HF transformers' DPTNeck + DPTSemanticSegmentationHead (test-only converter: a
# whole HF DPT checkpoint also needs its ViT, under dpt.*, which no vitdense converter reads).

def convert_hf_dpt_head(state_dict: dict[str, torch.Tensor], num_levels: int = 4) -> dict:
    """HF ``DPTForSemanticSegmentation`` neck and head keys -> DPTHead's.

    HF's fusion layers run coarsest first (``fusion_stage.layers.{j}`` is our
    ``fusion.{num_levels - 1 - j}``); the coarsest one's ``residual_layer1`` is never used by
    HF and is dropped. The ViT (``dpt.``) and the auxiliary head are left out.
    """
    renames = [
        (r'^neck\.reassemble_stage\.readout_projects\.(\d+)\.', r'reassemble.\1.readout_proj.'),
        (r'^neck\.reassemble_stage\.layers\.(\d+)\.projection\.', r'reassemble.\1.project.'),
        (r'^neck\.reassemble_stage\.layers\.(\d+)\.resize\.', r'reassemble.\1.resize.'),
        (r'^neck\.convs\.', 'convs.'),
        (r'^head\.head\.(0|1)\.', r'head.\1.'),
        (r'^head\.head\.4\.', 'classifier.'),
    ]
    fusion_parts = {'residual_layer1': 'rcu1', 'residual_layer2': 'rcu2', 'projection': 'project',
                    'convolution1': 'conv1', 'convolution2': 'conv2', 'batch_norm1': 'norm1',
                    'batch_norm2': 'norm2'}
    out = {}
    for key, value in state_dict.items():
        m = re.match(r'^neck\.fusion_stage\.layers\.(\d+)\.(.*)$', key)
        if m:
            if m.group(1) == '0' and m.group(2).startswith('residual_layer1.'):
                continue
            parts = [fusion_parts.get(p, p) for p in m.group(2).split('.')]
            out['.'.join(['fusion', str(num_levels - 1 - int(m.group(1))), *parts])] = value
            continue
        for pattern, repl in renames:
            if re.match(pattern, key):
                out[re.sub(pattern, repl, key)] = value
                break
    return out


@pytest.mark.parametrize('readout', ['ignore', 'add', 'project'])
def test_parity_with_hf_dpt(readout, randomize):
    """The same hidden states (cls token first) into HF's neck and head, and as maps and
    ``_cls`` tokens into ours, on an even non-square 6 x 8 grid (HF's and our fusion sizes
    agree there; see DPTHead's docstring). HF's readout takes the cls token from the hidden
    state itself; ours reads the ViT's ``b{i}_cls``, the same vector."""
    transformers = pytest.importorskip('transformers')
    torch.manual_seed(0)
    config = transformers.DPTConfig(
        hidden_size=DIM, num_hidden_layers=4, num_attention_heads=4, intermediate_size=64,
        image_size=32, patch_size=16, backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=list(SMALL['reassemble_channels']), reassemble_factors=[4, 2, 1, 0.5],
        fusion_hidden_size=SMALL['channels'], readout_type=readout, num_labels=5,
        use_batch_norm_in_fusion_residual=True, use_auxiliary_head=False)
    hf = transformers.DPTForSemanticSegmentation(config).eval()
    with torch.no_grad():
        randomize(hf)
    ours = DPTHead(_shapes(readout != 'ignore'), num_classes=5, in_features=BLOCKS,
                   readout=readout, **SMALL).eval()
    missing, unexpected = ours.load_state_dict(convert_hf_dpt_head(hf.state_dict()),
                                               strict=False)
    assert not unexpected and all(k.startswith('losses.') for k in missing), (missing, unexpected)

    h, w = 6, 8
    hidden = [torch.randn(2, 1 + h * w, DIM) for _ in BLOCKS]  # (B, 1 + h w, dim) per block
    feats = {}
    for name, x in zip(BLOCKS, hidden):
        feats[name] = x[:, 1:].transpose(1, 2).reshape(2, DIM, h, w)  # (B, dim, h, w)
        feats[f'{name}_cls'] = x[:, 0]
    with torch.no_grad():
        expected = hf.head(hf.neck(hidden, patch_height=h, patch_width=w))
        logits = ours(feats)
    assert expected.abs().amax() > 0.5  # not all ~0
    assert logits.shape == expected.shape == (2, 5, 16 * h, 16 * w)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-4)

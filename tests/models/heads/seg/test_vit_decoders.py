"""The decoder contract, for each plain-ViT decoder (LinearHead, SETR naive / PUP / MLA,
Segmenter): logits at ``out_stride`` on odd, non-square grids, a finite loss, a gradient for
every parameter, a missing input named."""
import pytest
import torch
from mmengine.structures import PixelData

from vitdense.registry import MODELS
from vitdense.structures import SegDataSample, ShapeSpec
from vitdense.utils import register_all_modules

register_all_modules()
DIM, K = 32, 5
SHAPES = {f'b{i}': ShapeSpec(DIM, 16) for i in (1, 3, 5)}
SHAPES.update({'p4': ShapeSpec(DIM, 16), 'b5_cls': ShapeSpec(DIM, 0)})
GRID = (3, 5)  # an odd, non-square patch grid: a 37 x 75 image padded to 48 x 80

# (config, expected out_stride)
DECODERS = {
    'linear': (dict(type='LinearHead', in_features=('b1', 'b5', 'b5_cls')), 16),
    'setr-naive': (dict(type='SETRUPHead', in_features=('p4',), channels=16, num_convs=1,
                        kernel_size=1, up_scale=1), 16),
    'setr-pup': (dict(type='SETRUPHead', in_features=('p4',), channels=16, num_convs=4,
                      kernel_size=3, up_scale=2), 1),
    'setr-mla': (dict(type='SETRMLAHead', in_features=('b1', 'b3', 'b5'), mla_channels=16,
                      head_channels=8), 4),
    'segmenter': (dict(type='SegmenterMaskHead', in_features=('p4',), num_layers=2,
                       num_heads=2, drop_path=0.1), 16),
}


def features(batch: int = 2) -> dict[str, torch.Tensor]:
    return {name: torch.randn(batch, DIM, *GRID) if spec.stride else torch.randn(batch, DIM)
            for name, spec in SHAPES.items()}


def samples(batch: int, size: tuple[int, int]) -> list[SegDataSample]:
    out = []
    for _ in range(batch):
        label = torch.randint(0, K, size)
        label[:2] = 255  # ignored rows
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None])
        out.append(sample)
    return out


def build(name: str):
    cfg, _ = DECODERS[name]
    return MODELS.build(dict(cfg, num_classes=K), default_args=dict(input_shape=SHAPES))


@pytest.mark.parametrize('name', DECODERS)
def test_logits_at_the_documented_stride_loss_and_gradients(name):
    torch.manual_seed(0)
    head = build(name).train()
    stride = DECODERS[name][1]
    assert head.out_stride == stride
    feats = features()
    logits = head(feats)
    assert logits.shape == (2, K, GRID[0] * 16 // stride, GRID[1] * 16 // stride)
    assert torch.isfinite(logits).all()
    losses = head.loss(feats, samples(2, (37, 75)))
    assert set(losses) == {'loss_ce'} and torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    for pname, param in head.named_parameters():
        assert param.grad is not None, f'{name}: {pname} gets no gradient'
        assert torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, pname


@pytest.mark.parametrize('name', DECODERS)
def test_missing_input_is_named(name):
    head = build(name)
    feats = features()
    dropped = head.in_features[-1]
    del feats[dropped]
    with pytest.raises(KeyError, match=dropped):
        head(feats)

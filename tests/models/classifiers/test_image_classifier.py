"""ImageClassifier through DenseDataPreprocessor: modes, gradients, overfitting, predictions."""
import pytest
import torch

from vitdense.registry import MODELS
from vitdense.structures import ClsDataSample
from vitdense.utils import register_all_modules

register_all_modules()


# the old demo recipe's backbone (conv stem), shrunk: a 20 x 20 reference grid for 64 x 64 crops
# (4 x 4 grids)
BACKBONE = dict(type='ViT', arch='test', img_size=(320, 320),
                stem=dict(type='ConvStem', stride=16, base_channels=8),
                pos_embed=dict(type='LearnedAbsolutePE'))


def tiny_classifier(**kw):
    cfg = dict(type='ImageClassifier', backbone=BACKBONE,
               head=dict(type='LinearClsHead', num_classes=3))
    cfg.update(kw)
    return MODELS.build(cfg)


def batch(labels, size=(64, 64), seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 255, (3, *size), dtype=torch.uint8, generator=gen)
              for _ in labels]
    samples = [ClsDataSample(metainfo=dict(img_shape=size, ori_shape=size), gt_label=label)
               for label in labels]
    return dict(inputs=inputs, data_samples=samples)


def test_loss_backward_reaches_every_parameter():
    model = tiny_classifier()
    data = model.data_preprocessor(batch([0, 2, 1]), training=True)
    assert data['inputs'].shape == (3, 3, 64, 64)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls'} and torch.isfinite(losses['loss_cls'])
    losses['loss_cls'].backward()
    assert all(p.grad is not None for p in model.parameters())


def test_overfits_a_tiny_batch():
    torch.manual_seed(0)
    model = tiny_classifier()
    data = model.data_preprocessor(batch([0, 1, 2, 0, 1, 2]), training=True)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = model(**data, mode='loss')['loss_cls']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(batch([0, 1, 2, 0, 1, 2])), mode='predict')
    assert [s.pred_label.item() for s in out] == [0, 1, 2, 0, 1, 2]


def test_predict_and_tensor_modes():
    model = tiny_classifier().eval()
    data = model.data_preprocessor(batch([1, 2], size=(61, 93)), training=False)
    assert data['inputs'].shape[-2:] == (64, 96)  # padded to the divisor, any size works
    with torch.no_grad():
        logits = model(data['inputs'], mode='tensor')
        out = model(**data, mode='predict')
        bare = model(data['inputs'], mode='predict')
    assert logits.shape == (2, 3)
    for i, sample in enumerate(out):
        assert sample.gt_label.item() == i + 1 and sample.pad_shape == (64, 96)
        torch.testing.assert_close(sample.pred_score, logits[i].softmax(0))
        assert sample.pred_label.item() == logits[i].argmax().item()
        assert torch.equal(bare[i].pred_label, sample.pred_label)
    with pytest.raises(ValueError, match="mode must be"):
        model(data['inputs'], mode='logits')


def test_backbone_weights_load_into_a_segmentor():
    """The point of pretraining: backbone.* keys and shapes match a dense model's backbone."""
    model = tiny_classifier()
    seg = MODELS.build(dict(
        type='Segmentor', backbone=BACKBONE,
        neck=dict(type='SimpleFPN', out_channels=16, scale_factors=(2.0, 1.0)),
        decode_head=dict(type='FPNFuseHead', num_classes=3, channels=16, norm=None)))
    backbone = {k: v for k, v in model.state_dict().items() if k.startswith('backbone.')}
    missing, unexpected = seg.load_state_dict(backbone, strict=False)
    assert len(backbone) > 10 and not unexpected
    assert not any(k.startswith('backbone.') for k in missing)
    torch.testing.assert_close(seg.backbone.state_dict(), model.backbone.state_dict())

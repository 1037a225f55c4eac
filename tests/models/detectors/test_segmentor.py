import pytest
import torch
from mmengine.structures import PixelData

from vitdense.registry import MODELS
from vitdense.structures import SegDataSample
from vitdense.utils import register_all_modules

register_all_modules()


def tiny_segmentor(**kw):
    cfg = dict(type='Segmentor',
               backbone=dict(type='ViT', arch='test', img_size=(64, 64), patch_size=16,
                             pos_embed=dict(type='LearnedAbsolutePE')),
               neck=dict(type='SimpleFPN', out_channels=16, scale_factors=(4.0, 2.0, 1.0)),
               decode_head=dict(type='FPNFuseHead', num_classes=5, channels=16, norm=None,
                                dropout=0.0))
    cfg.update(kw)
    return MODELS.build(cfg)


def batch(sizes, num_classes=5):
    inputs, samples = [], []
    for h, w in sizes:
        inputs.append(torch.randint(0, 255, (3, h, w), dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h + 7, w - 5)))
        label = torch.randint(0, num_classes, (1, h, w))
        label[:, :3] = 255
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_loss_backward_reaches_every_parameter():
    model = tiny_segmentor()
    data = model.data_preprocessor(batch([(61, 93), (50, 70)]), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_ce'} and torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    assert all(p.grad is not None for p in model.parameters())


def test_training_pads_labels_with_ignore_index():
    model = tiny_segmentor()
    data = model.data_preprocessor(batch([(61, 93), (50, 70)]), training=True)
    padded = data['data_samples'][1].gt_sem_seg.data
    assert padded.shape[-2:] == data['inputs'].shape[-2:] == (64, 96)
    assert (padded[:, 50:] == 255).all() and (padded[:, :, 70:] == 255).all()


def test_predictions_are_at_original_size():
    model = tiny_segmentor().eval()
    data = model.data_preprocessor(batch([(61, 93)]), training=False)
    with torch.no_grad():
        out = model(**data, mode='predict')[0]
    assert out.pred_sem_seg.data.shape == (1, 68, 88)
    assert out.seg_logits.data.shape == (5, 68, 88)
    assert 'gt_sem_seg' in out and out.gt_sem_seg.data.shape == (1, 61, 93)


def test_slide_with_one_window_equals_whole():
    whole = tiny_segmentor().eval()
    slide = tiny_segmentor(test_mode='slide', crop_size=(64, 96), stride=(32, 48)).eval()
    slide.load_state_dict(whole.state_dict())
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(slide.slide_inference(x), whole.encode_decode(x))


def test_slide_averages_overlapping_windows():
    model = tiny_segmentor(test_mode='slide', crop_size=(32, 32), stride=(20, 20)).eval()
    x = torch.randn(1, 3, 61, 93)
    with torch.no_grad():
        logits = model.slide_inference(x)
        corner = model.encode_decode(x[:, :, :32, :32])
    assert logits.shape == (1, 5, 61, 93)
    # The top-left 20 x 20 pixels are covered by one window only.
    torch.testing.assert_close(logits[..., :20, :20], corner[..., :20, :20])


def test_bad_test_mode_fails_clearly():
    with pytest.raises(ValueError, match='slide'):
        tiny_segmentor(test_mode='slide')
    with pytest.raises(ValueError, match='whole'):
        tiny_segmentor(test_mode='tiles')

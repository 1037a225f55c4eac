import pytest
import torch
from mmengine.structures import PixelData
from torch.nn import functional as F

from vitdense.models.utils.sliding_window import slide_windows
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


# Tolerances: the same crops through the same float32 network, batched differently, agree to
# float32 rounding (GEMM blocking differs with the batch size): atol = rtol = 1e-5.
TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('crop, stride', [((64, 96), (32, 48)), ((128, 128), (64, 64))])
def test_slide_with_one_window_equals_whole(crop, stride):
    """One window covers the image (exactly, or a larger crop clamped to it)."""
    whole = tiny_segmentor().eval()
    slide = tiny_segmentor(test_mode='slide', crop_size=crop, stride=stride).eval()
    slide.load_state_dict(whole.state_dict())
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(slide.slide_inference(x), whole.encode_decode(x), **TOL)


# The windows of a 61 x 93 image, crop 32 x 32, stride 20 x 20, written out by hand: rows start at
# 0, 20 and 29 (moved back to end at 61), columns at 0, 20, 40, 60 and 61 (to end at 93).
ROWS = (0, 20, 29)
COLS = (0, 20, 40, 60, 61)
WINDOWS = [(y, y + 32, x, x + 32) for y in ROWS for x in COLS]


def test_slide_windows_by_hand():
    assert slide_windows((61, 93), (32, 32), (20, 20)) == WINDOWS
    assert slide_windows((10, 12), (32, 32), (20, 20)) == [(0, 10, 0, 12)]  # clamped crop
    assert slide_windows((32, 50), (32, 32), (32, 18)) == [(0, 32, 0, 32), (0, 32, 18, 50)]
    with pytest.raises(ValueError, match='at most the crop size'):
        slide_windows((61, 93), (32, 32), (40, 20))


def test_slide_equals_the_average_of_the_windows_by_hand():
    model = tiny_segmentor(test_mode='slide', crop_size=(32, 32), stride=(20, 20)).eval()
    x = torch.randn(2, 3, 61, 93)
    with torch.no_grad():
        logits = model.slide_inference(x)
        crops = {w: model.encode_decode(x[:, :, w[0]:w[1], w[2]:w[3]]) for w in WINDOWS}
    assert logits.shape == (2, 5, 61, 93)
    # Pixels and the windows that cover them, listed by hand (row y1 / column x1 origins).
    covering = {(5, 5): [(0, 0)],                          # top-left: one window
                (25, 25): [(r, c) for r in (0, 20) for c in (0, 20)],
                (35, 62): [(r, c) for r in (20, 29) for c in (40, 60, 61)],
                (60, 92): [(29, 61)],                      # bottom-right: the clamped window
                (40, 30): [(r, c) for r in (20, 29) for c in (0, 20)],
                (30, 62): [(r, c) for r in ROWS for c in (40, 60, 61)]}  # 9 windows
    for (py, px), origins in covering.items():
        values = [crops[(r, r + 32, c, c + 32)][:, :, py - r, px - c] for r, c in origins]
        torch.testing.assert_close(logits[:, :, py, px], torch.stack(values).mean(0), **TOL)
    # Every pixel: the sum over covering windows divided by their number.
    total, count = torch.zeros(2, 5, 61, 93), torch.zeros(61, 93)
    for (y1, y2, x1, x2), out in crops.items():
        total[:, :, y1:y2, x1:x2] += out
        count[y1:y2, x1:x2] += 1
    assert count.min() >= 1 and count.max() == 9
    torch.testing.assert_close(logits, total / count, **TOL)


@pytest.mark.parametrize('windows_per_batch', [2, 8, 100])
def test_batched_windows_equal_one_at_a_time(monkeypatch, windows_per_batch):
    one = tiny_segmentor(test_mode='slide', crop_size=(32, 32), stride=(20, 20),
                         slide_batch_size=1).eval()
    batched = tiny_segmentor(test_mode='slide', crop_size=(32, 32), stride=(20, 20),
                             slide_batch_size=windows_per_batch).eval()
    batched.load_state_dict(one.state_dict())
    x = torch.randn(2, 3, 61, 93)
    calls = []
    extract = batched.extract_feat
    monkeypatch.setattr(batched, 'extract_feat', lambda crops: calls.append(len(crops))
                        or extract(crops))
    with torch.no_grad():
        torch.testing.assert_close(batched.slide_inference(x), one.slide_inference(x), **TOL)
    # 15 windows x 2 images, windows_per_batch windows (of both images) per forward pass
    full = min(windows_per_batch, 15) * 2
    assert calls == [full] * (30 // full) + ([30 % full] if 30 % full else [])


# Two images padded into one 64 x 96 batch, with original sizes of other aspects: one upscaled
# (tall and thin), one downscaled.
SHAPES = [dict(img_shape=(61, 93), ori_shape=(150, 40)),
          dict(img_shape=(40, 90), ori_shape=(20, 45))]


@pytest.mark.parametrize('flip', [None, 'horizontal', 'vertical'])
def test_postprocess_crops_padding_unflips_and_resizes(flip):
    model = tiny_segmentor().eval()
    logits = torch.randn(2, 5, 64, 96)
    logits[:, 2] = -10.0
    for i, meta in enumerate(SHAPES):
        h, w = meta['img_shape']
        logits[i, 2, h:] = logits[i, 2, :, w:] = 1e4  # padding says "class 2" loudly
    samples = [SegDataSample(metainfo=dict(meta, flip=flip is not None, flip_direction=flip))
               for meta in SHAPES]
    out = model.postprocess(logits, samples)
    for i, (meta, sample) in enumerate(zip(SHAPES, out)):
        (h, w), (oh, ow) = meta['img_shape'], meta['ori_shape']
        valid = logits[i:i + 1, :, :h, :w]
        if flip:
            valid = valid.flip(-1 if flip == 'horizontal' else -2)
        want = F.interpolate(valid, size=(oh, ow), mode='bilinear', align_corners=False)[0]
        assert sample.seg_logits.data.shape == (5, oh, ow)
        torch.testing.assert_close(sample.seg_logits.data, want, atol=0, rtol=0)
        assert (sample.pred_sem_seg.data == want.argmax(0, keepdim=True)).all()
        assert not (sample.pred_sem_seg.data == 2).any()  # nothing of the padding leaked in


def test_postprocess_refuses_an_unknown_flip():
    sample = SegDataSample(metainfo=dict(img_shape=(4, 4), ori_shape=(4, 4), flip=True,
                                         flip_direction='diagonal', img_path='a.jpg'))
    with pytest.raises(ValueError, match="'diagonal' of 'a.jpg'"):
        tiny_segmentor().postprocess(torch.randn(1, 5, 4, 4), [sample])


def aux(weight: float = 1.0, feature: str = 'p4') -> dict:
    return dict(type='FPNFuseHead', num_classes=5, channels=8, norm=None, dropout=0.0,
                in_features=(feature, ),
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=weight))


def test_auxiliary_head_adds_prefixed_losses_weighted_by_its_loss_decode():
    plain = tiny_segmentor(auxiliary_head=aux(1.0))
    weighted = tiny_segmentor(auxiliary_head=aux(0.4))
    weighted.load_state_dict(plain.state_dict())
    data = plain.data_preprocessor(batch([(61, 93), (50, 70)]), training=True)
    losses = plain(**data, mode='loss')
    losses_w = weighted(**data, mode='loss')
    assert set(losses) == {'loss_ce', 'aux.loss_ce'}
    torch.testing.assert_close(losses_w['loss_ce'], losses['loss_ce'], atol=0, rtol=0)
    torch.testing.assert_close(losses_w['aux.loss_ce'], 0.4 * losses['aux.loss_ce'],
                               atol=0, rtol=1e-6)
    sum(losses_w.values()).backward()
    assert all(p.grad is not None for p in weighted.parameters())


def test_auxiliary_heads_as_a_list_are_numbered():
    model = tiny_segmentor(auxiliary_head=[aux(0.4, 'p4'), aux(0.2, 'p3')])
    assert len(model.auxiliary_head) == 2
    data = model.data_preprocessor(batch([(61, 93)]), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_ce', 'aux_0.loss_ce', 'aux_1.loss_ce'}
    assert all(torch.isfinite(v) for v in losses.values())


def test_auxiliary_head_is_not_used_in_predict_or_tensor_mode(monkeypatch):
    with_aux = tiny_segmentor(auxiliary_head=aux()).eval()
    without = tiny_segmentor().eval()
    without.load_state_dict(with_aux.state_dict(), strict=False)
    monkeypatch.setattr(with_aux.auxiliary_head[0], 'forward',
                        lambda feats: pytest.fail('auxiliary head ran at test time'))
    data = with_aux.data_preprocessor(batch([(61, 93)]), training=False)
    with torch.no_grad():
        torch.testing.assert_close(with_aux(data['inputs'], mode='tensor'),
                                   without(data['inputs'], mode='tensor'))
        pred = with_aux(**data, mode='predict')[0]
    assert pred.seg_logits.data.shape == (5, 68, 88)


def test_bad_test_mode_fails_clearly():
    with pytest.raises(ValueError, match='slide'):
        tiny_segmentor(test_mode='slide')
    with pytest.raises(ValueError, match='whole'):
        tiny_segmentor(test_mode='tiles')
    with pytest.raises(ValueError, match='slide_batch_size'):
        tiny_segmentor(slide_batch_size=0)

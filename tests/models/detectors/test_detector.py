import copy

import pytest
import torch
from mmengine.structures import InstanceData, PixelData

from vitdense.registry import MODELS
from vitdense.structures import DetDataSample
from vitdense.utils import register_all_modules

register_all_modules()


def model_cfg(**kwargs) -> dict:
    return dict(
        type='Detector',
        data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32),
        backbone=dict(type='ViT', arch='test', img_size=(64, 64), patch_size=16,
                      pos_embed=dict(type='LearnedAbsolutePE')),
        neck=dict(type='SimpleFPN', out_channels=32, scale_factors=(2.0, 1.0, 0.5),
                  top_block=True),
        bbox_head=dict(type='FCOSHead', num_classes=3, feat_channels=32, stacked_convs=1),
        **kwargs)


def tiny_detector():
    return MODELS.build(model_cfg())


def batch():
    inputs, samples = [], []
    for (h, w), boxes in (((61, 93), [[5, 6, 40, 50], [50, 10, 90, 30]]), ((45, 33), [])):
        inputs.append(torch.randint(0, 255, (3, h, w), dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(2 * h, 2 * w),
                                             scale_factor=(0.5, 0.5)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor(boxes).float().reshape(-1, 4),
                                           labels=torch.arange(len(boxes)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_loss_predict_and_tensor_modes():
    model = tiny_detector()
    data = model.data_preprocessor(batch(), training=True)
    assert data['inputs'].shape == (2, 3, 64, 96)
    assert data['data_samples'][0].batch_input_shape == (64, 96)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_centerness'}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters())

    model.eval()
    with torch.no_grad():
        cls_scores, _, _ = model(data['inputs'], mode='tensor')
        preds = model(**model.data_preprocessor(batch()), mode='predict')
    assert len(cls_scores) == 4 and cls_scores[0].shape[:2] == (2, 3)
    for sample in preds:
        boxes = sample.pred_instances.bboxes
        oh, ow = sample.ori_shape
        assert (boxes[:, 0::2] <= ow).all() and (boxes[:, 1::2] <= oh).all()


HYBRID_STEM = dict(type='BasicBlockStem', widths=(8, 16, 32), depths=(1, 1, 1), stem_channels=8,
                   extra_outputs=('p3', ))


@pytest.mark.parametrize('stem', [None, HYBRID_STEM])
def test_channels_last_batches_give_channels_last_maps_and_the_same_losses(stem):
    results = {}
    for channels_last in (False, True):
        cfg = model_cfg()
        cfg['data_preprocessor']['channels_last'] = channels_last
        if stem is not None:
            cfg['backbone']['stem'] = stem
        torch.manual_seed(0)
        model = MODELS.build(cfg)
        data = model.data_preprocessor(batch(), training=True)
        assert data['inputs'].is_contiguous(
            memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        maps = model.backbone(data['inputs'])
        assert all(m.is_contiguous(memory_format=torch.channels_last) == channels_last
                   for m in maps.values())
        losses = model(**data, mode='loss')
        sum(losses.values()).backward()
        results[channels_last] = (losses, model.backbone.blocks[0].attn.qkv.weight.grad)
    (plain, plain_grad), (last, last_grad) = results[False], results[True]
    for key in plain:
        torch.testing.assert_close(last[key], plain[key], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(last_grad, plain_grad, rtol=1e-3, atol=1e-5)


class _RecordingHead(torch.nn.Module):
    """A head with the full contract: records what tensor mode hands it."""

    def __init__(self, input_shape):
        super().__init__()
        self.conv = torch.nn.Conv2d(input_shape['p4'].channels, 1, 1)
        self.seen = []

    def forward(self, feats, data_samples=None):
        self.seen.append(data_samples)
        return self.conv(feats['p4'])


class _OldContractHead(torch.nn.Module):
    """A plugin written before heads took the samples in tensor mode: forward(feats) only."""

    def __init__(self, input_shape):
        super().__init__()
        self.conv = torch.nn.Conv2d(input_shape['p4'].channels, 1, 1)

    def forward(self, feats):
        return self.conv(feats['p4'])


def _with_head(head_cls):
    name = head_cls.__name__
    if name not in MODELS.module_dict:
        MODELS.register_module(module=head_cls)
    return MODELS.build(dict(
        type='Detector',
        data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32),
        backbone=dict(type='ViT', arch='test', img_size=(64, 64), patch_size=16,
                      pos_embed=dict(type='LearnedAbsolutePE')),
        neck=dict(type='SimpleFPN', out_channels=32, scale_factors=(2.0, 1.0, 0.5)),
        bbox_head=dict(type=name)))


def test_tensor_mode_hands_the_samples_to_the_head_and_old_heads_still_work():
    model = _with_head(_RecordingHead)
    data = model.data_preprocessor(batch())
    out = model(data['inputs'], data['data_samples'], mode='tensor')
    assert out.shape == (2, 1, 4, 6)
    assert model.bbox_head.seen[-1] is data['data_samples']
    assert model.bbox_head.seen[-1][0].batch_input_shape == (64, 96)
    model(data['inputs'], mode='tensor')
    assert model.bbox_head.seen[-1] is None

    old = _with_head(_OldContractHead)
    assert old(data['inputs'], data['data_samples'], mode='tensor').shape == (2, 1, 4, 6)


def _semantic_detector():
    """The tiny detector, and the same with a semantic head on p3 (same detector weights)."""
    head = dict(type='FCNHead', in_features=('p3', ), num_classes=4, channels=16, num_convs=1,
                concat_input=False, dropout=0.0)
    plain, model = tiny_detector(), MODELS.build(model_cfg(semantic_head=head))
    missing, unexpected = model.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith('semantic_head.') for k in missing)
    return plain, model


def _with_label_maps(data):
    for img, sample in zip(data['inputs'], data['data_samples']):
        seg = torch.randint(0, 4, (1, *img.shape[-2:]))
        seg[:, :3] = 255  # ignored rows
        sample.gt_sem_seg = PixelData(data=seg)
    return data


def test_semantic_head_adds_its_loss_and_leaves_prediction_alone():
    plain, model = _semantic_detector()
    raw = batch()
    data = model.data_preprocessor(_with_label_maps(copy.deepcopy(raw)), training=True)
    # the preprocessor pads the label maps with the ignore label, like the images
    assert data['data_samples'][1].gt_sem_seg.data.shape == (1, 64, 96)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_centerness', 'semantic.loss_ce'}
    plain_losses = plain(**plain.data_preprocessor(copy.deepcopy(raw), training=True),
                         mode='loss')
    for key, value in plain_losses.items():  # the detection losses are the head's own
        torch.testing.assert_close(losses[key], value)
    # its value: the head's own loss on the same features (ignored pixels left out)
    feats = model.extract_feat(data['inputs'])
    torch.testing.assert_close(losses['semantic.loss_ce'],
                               model.semantic_head.loss(feats, data['data_samples'])['loss_ce'])
    # its gradient reaches the shared backbone
    model.zero_grad()
    losses['semantic.loss_ce'].backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.bbox_head.conv_cls.weight.grad is None

    model.eval()
    plain.eval()
    with torch.no_grad():
        preds = model(**model.data_preprocessor(copy.deepcopy(raw)), mode='predict')
        ref = plain(**plain.data_preprocessor(copy.deepcopy(raw)), mode='predict')
    for a, b in zip(preds, ref):
        torch.testing.assert_close(a.pred_instances.bboxes, b.pred_instances.bboxes)
        assert 'seg_logits' not in a and 'pred_sem_seg' not in a


def test_semantic_head_without_label_maps_says_what_to_load():
    _, model = _semantic_detector()
    data = model.data_preprocessor(batch(), training=True)
    with pytest.raises(ValueError, match=r'LoadAnnotations\(with_seg=True\)'):
        model(**data, mode='loss')

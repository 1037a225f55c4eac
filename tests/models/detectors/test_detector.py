import torch
from mmengine.structures import InstanceData

from vitdense.registry import MODELS
from vitdense.structures import DetDataSample
from vitdense.utils import register_all_modules

register_all_modules()


def tiny_detector():
    return MODELS.build(dict(
        type='Detector',
        data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32),
        backbone=dict(type='ViT', arch='test', img_size=(64, 64), patch_size=16,
                      pos_embed=dict(type='LearnedAbsolutePE')),
        neck=dict(type='SimpleFPN', out_channels=32, scale_factors=(2.0, 1.0, 0.5),
                  top_block=True),
        bbox_head=dict(type='FCOSHead', num_classes=3, feat_channels=32, stacked_convs=1)))


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

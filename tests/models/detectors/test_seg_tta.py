"""SegTTAModel with mmcv's TestTimeAug: flips and scales, merged as mmseg merges them.

Tolerance: probabilities agree to 1e-6 (float32 softmax of logits that differ by rounding).
"""
import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from torch import nn
from torch.nn import functional as F

from vitdense.models.detectors import SegTTAModel
from vitdense.models.heads.seg.decode_head import BaseDecodeHead
from vitdense.registry import MODELS
from vitdense.structures import SegDataSample, ShapeSpec
from vitdense.utils import register_all_modules

register_all_modules()
TOL = dict(atol=1e-6, rtol=0)
NUM_CLASSES = 4


class MirrorSymmetricConv(nn.Module):
    """Test backbone, equivariant to horizontal flips by construction: a 3x3 conv whose kernel
    is averaged with its mirror image (zero padding is symmetric too), stride 1."""

    def __init__(self, channels: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.channels = channels

    def output_shape(self) -> dict[str, ShapeSpec]:
        return {'p0': ShapeSpec(self.channels, 1)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        weight = (self.conv.weight + self.conv.weight.flip(-1)) / 2  # (C, 3, 3, 3) mirrored
        return {'p0': F.gelu(F.conv2d(x, weight, self.conv.bias, padding=1))}


class PointwiseTestHead(BaseDecodeHead):
    """Test decoder: a 1x1 conv classifier (pointwise, so flip-equivariant)."""

    def __init__(self, input_shape, num_classes, in_features=None):
        super().__init__(input_shape, num_classes, in_features)
        self.classifier = nn.Conv2d(input_shape[self.in_features[0]].channels, num_classes, 1)

    def forward(self, feats):
        return self.classifier(self.inputs(feats)[0])


@pytest.fixture(scope='module', autouse=True)
def test_modules():
    """The two test modules, registered for this file only."""
    for cls in (MirrorSymmetricConv, PointwiseTestHead):
        MODELS.register_module(module=cls, force=True)
    yield
    for cls in (MirrorSymmetricConv, PointwiseTestHead):
        MODELS._module_dict.pop(cls.__name__, None)


def symmetric_segmentor() -> dict:
    return dict(type='Segmentor', backbone=dict(type='MirrorSymmetricConv'),
                decode_head=dict(type='PointwiseTestHead', num_classes=NUM_CLASSES),
                data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=1))


def vit_segmentor() -> dict:
    return dict(type='Segmentor',
                backbone=dict(type='ViT', arch='test', img_size=(64, 64), patch_size=16,
                              pos_embed=dict(type='LearnedAbsolutePE')),
                neck=dict(type='SimpleFPN', out_channels=16, scale_factors=(4.0, 2.0, 1.0)),
                decode_head=dict(type='FPNFuseHead', num_classes=NUM_CLASSES, channels=16,
                                 norm=None, dropout=0.0))


@pytest.fixture
def image_info(tmp_path) -> dict:
    """A random 37 x 58 image and label map on disk, as a dataset's data_info."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (37, 58, 3), dtype=np.uint8)
    img[:, :20] //= 3  # not mirror-symmetric
    label = rng.integers(0, NUM_CLASSES + 1, (37, 58), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'img.png'), img)
    cv2.imwrite(str(tmp_path / 'seg.png'), label)
    return dict(img_path=str(tmp_path / 'img.png'), seg_map_path=str(tmp_path / 'seg.png'),
                reduce_zero_label=True, num_classes=NUM_CLASSES, seg_fields=[])


def tta_pipeline(resizes: list[dict]) -> Compose:
    """mmseg's ADE20K tta_pipeline layout: resizes x (no flip, flip), then the labels."""
    steps = [dict(type='LoadImageFromFile'),
             dict(type='TestTimeAug', transforms=[
                 resizes,
                 [dict(type='RandomFlip', prob=0., direction='horizontal'),
                  dict(type='RandomFlip', prob=1., direction='horizontal')],
                 [dict(type='LoadAnnotations', with_bbox=False, with_label=False,
                       with_seg=True)],
                 [dict(type='PackSegInputs')]])]
    with DefaultScope.overwrite_default_scope('vitdense'):
        return Compose(steps)


def plain_pipeline(*augment: dict) -> Compose:
    """One view: load, ``augment`` (resize, flip), then the labels."""
    steps = [dict(type='LoadImageFromFile'), *augment,
        dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
        dict(type='PackSegInputs')]
    with DefaultScope.overwrite_default_scope('vitdense'):
        return Compose(steps)


def run(model, pipeline: Compose, info: dict):
    with torch.no_grad():
        return model.test_step(pseudo_collate([pipeline(dict(info))]))[0]


def test_flip_tta_of_a_flip_equivariant_model_equals_no_tta(image_info):
    torch.manual_seed(0)
    tta = MODELS.build(dict(type='SegTTAModel', module=symmetric_segmentor())).eval()
    merged = run(tta, tta_pipeline([dict(type='Resize', scale_factor=1.0)]), image_info)
    plain = run(tta.module, plain_pipeline(), image_info)
    # The flipped view's raw logits are the mirror image of the plain ones (equivariance), so
    # only a correct un-flip makes them agree with the plain view.
    flipped = tta.module.encode_decode(
        tta.module.data_preprocessor(pseudo_collate([plain_pipeline()(dict(image_info))]))
        ['inputs'].flip(-1))[0]
    assert not torch.allclose(flipped, plain.seg_logits.data, atol=1e-3)
    torch.testing.assert_close(flipped.flip(-1), plain.seg_logits.data, atol=1e-5, rtol=0)

    assert merged.seg_logits.data.shape == (NUM_CLASSES, 37, 58)
    torch.testing.assert_close(merged.seg_logits.data.exp(),
                               plain.seg_logits.data.softmax(0), **TOL)
    assert (merged.pred_sem_seg.data == plain.pred_sem_seg.data).all()
    assert (merged.gt_sem_seg.data == plain.gt_sem_seg.data).all()
    assert merged.img_path == image_info['img_path'] and merged.ori_shape == (37, 58)
    assert merged.reduce_zero_label is True


def test_multi_scale_flip_tta_averages_the_views_probabilities(image_info):
    torch.manual_seed(0)
    tta = MODELS.build(dict(type='SegTTAModel', module=vit_segmentor())).eval()
    ratios = (0.75, 1.0, 1.5)
    merged = run(tta, tta_pipeline([dict(type='Resize', scale_factor=r, keep_ratio=True)
                                    for r in ratios]), image_info)
    # Each view by hand: the plain model on the resized (and flipped) image.
    probs = []
    for r in ratios:
        for flip in (0.0, 1.0):
            view = run(tta.module, plain_pipeline(
                dict(type='Resize', scale_factor=r, keep_ratio=True),
                dict(type='RandomFlip', prob=flip, direction='horizontal')), image_info)
            assert view.seg_logits.data.shape == (NUM_CLASSES, 37, 58)
            probs.append(view.seg_logits.data.softmax(0))
    want = torch.stack(probs).mean(0)
    torch.testing.assert_close(merged.seg_logits.data.exp(), want, **TOL)
    assert (merged.pred_sem_seg.data == want.argmax(0, keepdim=True)).all()
    # Not the mean of the logits, nor one view alone.
    assert not torch.allclose(want, probs[0], atol=1e-3)


def test_views_of_different_sizes_are_refused():
    views = [SegDataSample(metainfo=dict(img_path='a.jpg')) for _ in range(2)]
    views[0].seg_logits = PixelData(data=torch.zeros(3, 4, 5))
    views[1].seg_logits = PixelData(data=torch.zeros(3, 5, 4))
    with pytest.raises(ValueError, match="'a.jpg'.*original image"):
        SegTTAModel.merge_views(views)

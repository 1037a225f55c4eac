"""DetTTAModel with mmcv's TestTimeAug: a flipped view's boxes flipped back, the views merged by
class-aware NMS, as mmdet merges them."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from vitdense.models.utils import batched_nms
from vitdense.registry import MODELS
from vitdense.structures import DetDataSample
from vitdense.transforms.geometric import flip_boxes
from vitdense.utils import register_all_modules

register_all_modules()
H, W = 45, 70  # the image on disk (an odd size: the flip is about its own width, not a padded one)


def test_flip_boxes_mirrors_tensors_and_is_its_own_inverse():
    boxes = torch.tensor([[10., 5., 30., 20.]])
    horizontal = flip_boxes(boxes, (H, W), 'horizontal')
    torch.testing.assert_close(horizontal, torch.tensor([[40., 5., 60., 20.]]))
    torch.testing.assert_close(flip_boxes(boxes, (H, W), 'vertical'),
                               torch.tensor([[10., 25., 30., 40.]]))
    torch.testing.assert_close(flip_boxes(horizontal, (H, W), 'horizontal'), boxes)
    assert boxes[0, 0] == 10  # a new tensor


def view(boxes, scores, labels, **meta) -> DetDataSample:
    sample = DetDataSample(metainfo=dict(img_id=7, ori_shape=(H, W), img_shape=(H, W), **meta))
    sample.pred_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                                         scores=torch.tensor(scores),
                                         labels=torch.tensor(labels))
    return sample


def test_merge_unflips_the_mirrored_view_and_keeps_the_best_of_each_object():
    tta = MODELS.build(dict(type='DetTTAModel', module=dict(type='Detector', **tiny_parts()),
                            nms_iou_thr=0.5, max_per_img=10))
    plain = view([[10., 5., 30., 20.], [0., 0., 8., 8.]], [0.6, 0.3], [1, 2], flip=False)
    # the same object as the plain view's first, seen mirrored (x -> W - x), scoring higher; and
    # one object only the mirrored view found
    mirrored = view([[40., 5., 60., 20.], [60., 30., 70., 45.]], [0.8, 0.4], [1, 0], flip=True,
                    flip_direction='horizontal')
    merged = tta.merge_views([plain, mirrored])
    torch.testing.assert_close(merged.pred_instances.bboxes, torch.tensor(
        [[10., 5., 30., 20.], [0., 30., 10., 45.], [0., 0., 8., 8.]]))
    torch.testing.assert_close(merged.pred_instances.scores, torch.tensor([0.8, 0.4, 0.3]))
    assert merged.pred_instances.labels.tolist() == [1, 0, 2]
    assert merged.img_id == 7 and merged.ori_shape == (H, W)
    assert 'flip' not in merged.metainfo and 'img_shape' not in merged.metainfo
    rotated = view([[0., 0., 8., 8.]], [0.5], [0], flip=True, flip_direction='diagonal')
    with pytest.raises(ValueError, match="'diagonal'"):
        tta.merge_views([plain, rotated])


def tiny_parts() -> dict:
    return dict(
        data_preprocessor=dict(type='DenseDataPreprocessor', pad_size_divisor=32),
        backbone=dict(type='ViT', arch='test', img_size=(64, 64), patch_size=16,
                      pos_embed=dict(type='LearnedAbsolutePE')),
        neck=dict(type='SimpleFPN', out_channels=32, scale_factors=(2.0, 1.0, 0.5),
                  top_block=True),
        bbox_head=dict(type='FCOSHead', num_classes=3, feat_channels=32, stacked_convs=1,
                       score_thr=0.0, nms_iou_thr=0.6, max_per_img=50))


@pytest.fixture
def image_info(tmp_path) -> dict:
    """A random image on disk, not mirror-symmetric, and its mirror image."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    img[:, :20] //= 3
    cv2.imwrite(str(tmp_path / 'img.png'), img)
    cv2.imwrite(str(tmp_path / 'mirror.png'), img[:, ::-1])
    return dict(img_path=str(tmp_path / 'img.png'), img_id=7, instances=[])


def pipeline(*transforms) -> Compose:
    with DefaultScope.overwrite_default_scope('vitdense'):
        return Compose([dict(type='LoadImageFromFile'), *transforms])


def tta_transforms(flips: list[float]) -> dict:
    """The shapes tta_pipeline's layout, at a 96 px test size."""
    return dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(96, 96), keep_ratio=True)],
        [dict(type='RandomFlip', prob=p, direction='horizontal') for p in flips],
        [dict(type='LoadAnnotations', with_bbox=True)],
        [dict(type='PackDetInputs')]])


def plain_transforms() -> list[dict]:
    return [dict(type='Resize', scale=(96, 96), keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True), dict(type='PackDetInputs')]


def predict(model, steps: Compose, info: dict) -> InstanceData:
    with torch.no_grad():
        return model.test_step(pseudo_collate([steps(dict(info))]))[0].pred_instances


def test_flip_tta_merges_the_plain_and_the_mirrored_images_detections(image_info):
    torch.manual_seed(0)
    tta = MODELS.build(dict(type='DetTTAModel', module=dict(type='Detector', **tiny_parts()),
                            nms_iou_thr=0.6, max_per_img=50)).eval()
    detector = tta.module
    one_view = predict(tta, pipeline(tta_transforms([0.])), image_info)
    plain = predict(detector, pipeline(*plain_transforms()), image_info)
    assert len(plain) == 50  # score_thr 0: a full list, so the merge has work to do
    for key in ('bboxes', 'scores', 'labels'):  # one view: the head's own NMS already held
        torch.testing.assert_close(one_view[key], plain[key], atol=0, rtol=0)

    # the mirrored view, computed apart: the detector on the mirrored file, boxes flipped back
    mirror = predict(detector, pipeline(*plain_transforms()),
                     dict(image_info, img_path=image_info['img_path'].replace('img', 'mirror')))
    boxes = torch.cat([plain.bboxes, flip_boxes(mirror.bboxes, (H, W), 'horizontal')])
    scores, labels = torch.cat([plain.scores, mirror.scores]), torch.cat([plain.labels,
                                                                          mirror.labels])
    keep = batched_nms(boxes, scores, labels, 0.6)[:50]
    merged = predict(tta, pipeline(tta_transforms([0., 1.])), image_info)
    torch.testing.assert_close(merged.bboxes, boxes[keep], atol=1e-4, rtol=0)
    torch.testing.assert_close(merged.scores, scores[keep], atol=1e-6, rtol=0)
    assert torch.equal(merged.labels, labels[keep])
    assert not torch.equal(merged.bboxes, plain.bboxes)  # the mirrored view did contribute

"""CropObject geometry, then Resize / RandomFlip / PackClsInputs on its output."""
import numpy as np
import pytest
import torch

from vitdense.structures import ClsDataSample
from vitdense.transforms import CropObject, PackClsInputs, RandomFlip, Resize
from vitdense.transforms.crop_object import square_window

H, W = 61, 93


def _results(bbox) -> dict:
    # pixel value encodes position: img[y, x] = (y, x, 7), so a crop can be located exactly
    ys, xs = np.mgrid[:H, :W]
    img = np.stack([ys, xs, np.full_like(ys, 7)], axis=-1).astype(np.uint8)  # (H, W, 3)
    return dict(img=img, img_shape=(H, W), ori_shape=(H, W), img_path='a.jpg',
                bbox=[float(v) for v in bbox], gt_label=5)


def test_fixed_margin_crop_is_centred_square_of_the_right_side():
    out = CropObject(margin_range=(0.25, 0.25))(_results([30, 20, 50, 30]))  # 20 x 10 box
    side = round(20 * 1.5)
    assert out['img'].shape == (side, side, 3) and out['img_shape'] == (side, side)
    x0, y0 = 40 - side // 2, 25 - side // 2  # box centre (40, 25)
    assert out['crop_bbox'].tolist() == [x0, y0, x0 + side, y0 + side]
    assert out['img'][0, 0].tolist() == [y0, x0, 7]  # top-left pixel is image pixel (x0, y0)
    assert out['img'][-1, -1].tolist() == [y0 + side - 1, x0 + side - 1, 7]


@pytest.mark.parametrize('bbox', [[0, 0, 12, 9], [80, 45, 93, 61], [-3, 50, 10, 61]])
def test_window_outside_the_image_is_padded(bbox):
    out = CropObject(margin_range=(0.2, 0.2), pad_val=114)(_results(bbox))
    x0, y0, x1, y1 = out['crop_bbox'].astype(int)
    side = x1 - x0
    assert out['img'].shape == (side, side, 3)
    inside = np.zeros((side, side), bool)
    inside[max(-y0, 0):min(H - y0, side), max(-x0, 0):min(W - x0, side)] = True
    assert not inside.all()  # these boxes touch a border, so some of the window is outside
    assert (out['img'][~inside] == 114).all()
    ys, xs = np.nonzero(inside)
    assert (out['img'][ys, xs, 0] == ys + y0).all() and (out['img'][ys, xs, 1] == xs + x0).all()


def test_random_margin_stays_in_range():
    transform = CropObject(margin_range=(0.1, 0.25))
    np.random.seed(0)
    sides = {transform(_results([30, 20, 70, 40]))['img'].shape[0] for _ in range(40)}
    assert len(sides) > 3 and min(sides) >= round(40 * 1.2) and max(sides) <= round(40 * 1.5)


def test_square_window_centres_the_box():
    for bbox in ([3.5, 7.25, 20.0, 11.0], [0, 0, 1, 1], [10, 10, 10.4, 10.2]):
        x0, y0, side = square_window(bbox, 0.15)
        assert side >= 1
        assert abs(x0 + side / 2 - (bbox[0] + bbox[2]) / 2) <= 0.5
        assert abs(y0 + side / 2 - (bbox[1] + bbox[3]) / 2) <= 0.5


def test_bad_arguments_and_missing_bbox_raise():
    with pytest.raises(ValueError, match='margin_range'):
        CropObject(margin_range=(0.3, 0.1))
    with pytest.raises(ValueError, match='pad_val'):
        CropObject(margin_range=(0.1, 0.1), pad_val=(1, 2))(_results([0, 0, 20, 20]))
    results = _results([0, 0, 20, 20])
    results.pop('bbox')
    with pytest.raises(KeyError, match='ObjectCropDataset'):
        CropObject()(results)


def test_resize_flip_and_pack_work_on_crops():
    out = CropObject(margin_range=(0.25, 0.25))(_results([30, 20, 50, 30]))
    crop = out['img'].copy()
    out = RandomFlip(prob=1.0)(Resize(scale=(64, 64), keep_ratio=False)(out))
    assert out['img'].shape == (64, 64, 3) and out['img_shape'] == (64, 64) and out['flip']
    # mirrored: the x coordinate encoded in channel 1 now decreases left to right
    assert out['img'][32, 0, 1] > out['img'][32, -1, 1]
    assert out['img'][32, 0, 1] == pytest.approx(crop[15, -1, 1], abs=1)
    packed = PackClsInputs()(out)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 64, 64)
    assert (inputs.permute(1, 2, 0).numpy() == out['img']).all()
    assert isinstance(sample, ClsDataSample) and sample.gt_label.tolist() == [5]
    assert sample.metainfo == dict(img_path='a.jpg', ori_shape=(H, W), img_shape=(64, 64))


def test_pack_without_label_and_missing_meta():
    results = _results([0, 0, 10, 10])
    results.pop('gt_label')
    assert 'gt_label' not in PackClsInputs()(dict(results))['data_samples']
    results.pop('ori_shape')
    with pytest.raises(KeyError, match="'ori_shape' is not in the results"):
        PackClsInputs()(results)

"""Resize, RandomResize, RandomFlip, RandomCrop keep image, boxes and label map aligned."""
import copy

import numpy as np
import pytest

from vitdense.transforms import RandomCrop, RandomFlip, RandomResize, Resize


@pytest.mark.parametrize('direction', ['horizontal', 'vertical'])
def test_flip_moves_boxes_with_the_label_map_and_twice_is_identity(sample, boxes_of, direction):
    original = copy.deepcopy(sample)
    flip = RandomFlip(prob=1.0, direction=direction)
    once = flip(sample)
    assert once['flip'] is True and once['flip_direction'] == direction
    assert (once['gt_bboxes'] == boxes_of(once['gt_seg_map'], [3, 5])).all()
    axis = 1 if direction == 'horizontal' else 0
    assert (once['img'] == np.flip(original['img'], axis)).all()
    twice = flip(copy.deepcopy(once))
    for key in ('img', 'gt_seg_map', 'gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags'):
        assert (twice[key] == original[key]).all(), key
    kept = RandomFlip(prob=0.0)(copy.deepcopy(original))
    assert kept['flip'] is False and kept['flip_direction'] is None
    assert (kept['gt_bboxes'] == original['gt_bboxes']).all()


def test_flip_probability_is_respected(sample):
    np.random.seed(0)
    flips = [RandomFlip(prob=0.3)(dict(img=sample['img']))['flip'] for _ in range(400)]
    assert 0.22 < np.mean(flips) < 0.38


@pytest.mark.parametrize('scale, keep_ratio, size', [
    ((200, 100), True, (152, 100)),    # short side bound: 100 / 61
    ((400, 120), True, (183, 120)),    # short side bound again: 120 / 61
    ((120, 100), True, (120, 79)),     # long side bound: 120 / 93
    ((100, 200), True, (152, 100)),    # the order of the pair does not matter
    ((50, 77), False, (50, 77)),       # exact size, ratio changes
])
def test_resize_scale_factor_is_consistent(sample, boxes_of, scale, keep_ratio, size):
    original = copy.deepcopy(sample)
    out = Resize(scale=scale, keep_ratio=keep_ratio)(sample)
    w, h = size
    assert out['img'].shape == (h, w, 3) and out['gt_seg_map'].shape == (h, w)
    assert out['img_shape'] == (h, w) and out['ori_shape'] == (61, 93)
    assert out['scale_factor'] == pytest.approx((w / 93, h / 61))
    want = original['gt_bboxes'] * np.array(out['scale_factor'] * 2, np.float32)
    assert np.allclose(out['gt_bboxes'], want)
    assert np.abs(out['gt_bboxes'] - boxes_of(out['gt_seg_map'], [3, 5])).max() <= 1.0
    assert set(np.unique(out['gt_seg_map'])) <= {0, 3, 5}  # nearest: no new labels


def test_resize_scale_factor_accumulates_and_boxes_are_clipped(sample):
    sample['gt_bboxes'] = np.array([[80, 50, 120, 70]], np.float32)  # crosses the border
    out = Resize(scale=(186, 122))(sample)
    assert out['gt_bboxes'].tolist() == [[160, 100, 186, 122]]
    out = Resize(scale=(62, 61))(out)
    assert out['scale_factor'] == pytest.approx((62 / 93, 61 / 61))
    with pytest.raises(ValueError, match='width, height'):
        Resize(scale=(100, ))


@pytest.mark.parametrize('factor, keep_ratio, size', [
    (0.5, True, (47, 31)),             # 93 x 61 -> round(46.5) x round(30.5)
    (1.75, True, (163, 107)),          # 162.75 x 106.75
    ((2.0, 0.5), False, (186, 31)),    # a (width, height) pair of factors
])
def test_resize_by_scale_factor_of_the_current_size(sample, factor, keep_ratio, size):
    out = Resize(scale_factor=factor, keep_ratio=keep_ratio)(sample)
    w, h = size
    assert out['img'].shape == (h, w, 3) and out['gt_seg_map'].shape == (h, w)
    assert out['ori_shape'] == (61, 93) and out['scale_factor'] == pytest.approx((w / 93, h / 61))


@pytest.mark.parametrize('kwargs, match', [
    (dict(), 'either scale'), (dict(scale=(10, 10), scale_factor=2.0), 'either scale'),
    (dict(scale_factor=0), 'positive'), (dict(scale_factor=(1.0, 2.0, 3.0)), 'pair')])
def test_resize_takes_scale_or_scale_factor(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Resize(**kwargs)


def test_random_resize_samples_within_the_range(sample):
    np.random.seed(1)
    jitter = RandomResize(scale=(200, 100), ratio_range=(0.5, 2.0), keep_ratio=True)
    sizes = [jitter(copy.deepcopy(sample))['img_shape'] for _ in range(30)]
    # keep_ratio with the (200, 100) * r box: the short side (61 -> 100 * r) binds
    assert all(50 * 0.99 <= h <= 200 * 1.01 for h, _ in sizes) and len(set(sizes)) > 10
    ranged = RandomResize(scale=[(300, 80), (500, 120)], keep_ratio=True)
    for _ in range(30):
        h, w = ranged(copy.deepcopy(sample))['img_shape']
        assert 80 <= h <= 120
    with pytest.raises(ValueError, match='two'):
        RandomResize(scale=(100, 100))


def test_crop_drops_vanished_boxes_and_keeps_labels_aligned(sample, boxes_of):
    crop = RandomCrop(crop_size=(30, 40), allow_negative_crop=True)
    np.random.seed(0)
    seen = set()
    for _ in range(60):
        out = crop(copy.deepcopy(sample))
        seg = out['gt_seg_map']
        assert out['img'].shape == (30, 40, 3) and seg.shape == (30, 40)
        assert out['img_shape'] == (30, 40)
        present = [v for v in (3, 5) if (seg == v).any()]
        assert out['gt_bboxes_labels'].tolist() == present
        assert (out['gt_bboxes'] == boxes_of(seg, present)).all()
        assert out['gt_ignore_flags'].tolist() == [v == 5 for v in present]
        seen.add(len(present))
    assert seen == {0, 1, 2}


def test_crop_without_negative_windows(sample):
    for key in ('gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags'):
        sample[key] = sample[key][:1]
    crop = RandomCrop(crop_size=(12, 12), allow_negative_crop=False, max_attempts=2)
    np.random.seed(0)
    outs = [crop(copy.deepcopy(sample)) for _ in range(40)]
    assert any(o is None for o in outs)  # the dataset then draws another image
    assert all(len(o['gt_bboxes']) == 1 for o in outs if o is not None)
    big = RandomCrop(crop_size=(100, 50))(copy.deepcopy(sample))  # taller than the image
    assert big['img'].shape[:2] == (61, 50)


def test_crop_cat_max_ratio_avoids_single_class_windows(sample):
    # about 2/3 of the 40 x 50 windows qualify; 10 attempts miss them all with p ~ 1e-5
    crop = RandomCrop(crop_size=(40, 50), cat_max_ratio=0.75)
    np.random.seed(0)
    for _ in range(20):
        labels, counts = np.unique(crop(copy.deepcopy(sample))['gt_seg_map'],
                                   return_counts=True)
        assert len(labels) > 1 and counts.max() / counts.sum() < 0.75

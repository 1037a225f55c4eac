"""Albu: albumentations transforms from config, box- and mask-aware, integer labels kept."""
import copy

import numpy as np
import pytest

import vitdense.transforms.albu as albu_module
from vitdense.transforms import Albu, RandomFlip


def test_flip_matches_random_flip_on_boxes_and_mask(sample):
    ours = RandomFlip(prob=1.0)(copy.deepcopy(sample))
    out = Albu(transforms=[dict(type='HorizontalFlip', p=1.0)])(copy.deepcopy(sample))
    assert (out['img'] == ours['img']).all() and (out['gt_seg_map'] == ours['gt_seg_map']).all()
    assert np.allclose(out['gt_bboxes'], ours['gt_bboxes'], atol=1e-3)
    assert out['gt_bboxes'].dtype == np.float32
    assert out['gt_bboxes_labels'].dtype == np.int64
    assert out['gt_bboxes_labels'].tolist() == [3, 5]
    assert out['gt_ignore_flags'].tolist() == [False, True]


def test_dropped_boxes_take_their_labels_with_them(sample, boxes_of):
    # first call without boxes: albumentations fixes its label encoding on the first call
    albu = Albu(transforms=[dict(type='Crop', x_min=0, y_min=0, x_max=55, y_max=61)],
                bbox_params=dict(type='BboxParams', format='pascal_voc',
                                 label_fields=['gt_bboxes_labels'], min_visibility=0.1))
    empty = copy.deepcopy(sample)
    for key, value in (('gt_bboxes', np.zeros((0, 4), np.float32)),
                       ('gt_bboxes_labels', np.zeros(0, np.int64)),
                       ('gt_ignore_flags', np.zeros(0, bool))):
        empty[key] = value
    assert albu(empty)['gt_bboxes_labels'].dtype == np.int64
    out = albu(copy.deepcopy(sample))
    assert out['img'].shape == (61, 55, 3) and out['img_shape'] == (61, 55)
    assert out['gt_bboxes_labels'].dtype == np.int64 and out['gt_bboxes_labels'].tolist() == [3]
    assert out['gt_ignore_flags'].tolist() == [False]
    assert np.allclose(out['gt_bboxes'], boxes_of(out['gt_seg_map'], [3]), atol=1e-3)


def test_nested_and_photometric_transforms(sample):
    albu = Albu(transforms=[dict(type='OneOf', p=1.0, transforms=[
        dict(type='RandomBrightnessContrast', p=1.0), dict(type='ColorJitter', p=1.0)])])
    out = albu(copy.deepcopy(sample))
    assert not (out['img'] == sample['img']).all()
    assert (out['gt_seg_map'] == sample['gt_seg_map']).all()
    assert np.allclose(out['gt_bboxes'], sample['gt_bboxes'], atol=1e-3)


def test_degenerate_boxes_are_dropped_not_fatal(sample):
    sample['gt_bboxes'][1] = [60, 40, 60, 55]  # zero width
    out = Albu(transforms=[dict(type='HorizontalFlip', p=1.0)])(sample)
    assert out['gt_bboxes_labels'].tolist() == [3]


def test_config_errors_are_explained():
    with pytest.raises(ValueError, match='HorizontalFlip'):
        Albu(transforms=[dict(type='HorizontalFlp')])
    with pytest.raises(ValueError, match='pascal_voc'):
        Albu(transforms=[], bbox_params=dict(format='coco'))
    with pytest.raises(ValueError, match='labels'):
        Albu(transforms=[], bbox_params=dict(label_fields=['labels']))
    with pytest.raises(ValueError, match='keymap'):
        Albu(transforms=[], keymap=dict(img='image', gt_seg_map='image'))


def test_missing_albumentations_fails_when_built(monkeypatch):
    monkeypatch.setattr(albu_module, 'albumentations', None)
    with pytest.raises(ImportError, match='pip install albumentations'):
        Albu(transforms=[])

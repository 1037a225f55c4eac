"""PackDetInputs / PackSegInputs: tensor types, shapes, ignored boxes and metainfo."""
import numpy as np
import pytest
import torch

from vitdense.structures import DetDataSample, SegDataSample
from vitdense.transforms import PackDetInputs, PackSegInputs, RandomFlip, Resize


def test_pack_det_inputs(sample):
    sample = RandomFlip(prob=1.0)(Resize(scale=(47, 31))(sample))
    img = sample['img']
    out = PackDetInputs()(sample)
    inputs, data = out['inputs'], out['data_samples']
    assert isinstance(data, DetDataSample)
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 31, 47) and inputs.is_contiguous()
    assert (inputs.permute(1, 2, 0).numpy() == img).all()  # BGR, channel-first
    gt, ignored = data.gt_instances, data.ignored_instances
    assert gt.bboxes.dtype == torch.float32 and gt.bboxes.shape == (1, 4)
    assert gt.labels.dtype == torch.int64 and gt.labels.tolist() == [3]
    assert ignored.labels.tolist() == [5] and ignored.bboxes.shape == (1, 4)
    assert torch.equal(gt.bboxes[0], torch.from_numpy(sample['gt_bboxes'][0]))
    assert data.img_id == 7 and data.img_path == 'a.jpg' and data.ori_shape == (61, 93)
    assert data.img_shape == (31, 47) and data.flip is True
    assert data.flip_direction == 'horizontal'
    assert data.scale_factor == pytest.approx((47 / 93, 31 / 61))


def test_pack_det_inputs_defaults_and_missing_keys(sample):
    for key in ('gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags'):
        sample.pop(key)
    data = PackDetInputs()(dict(sample))['data_samples']
    assert 'gt_instances' not in data  # inference: no annotations
    assert data.scale_factor == (1.0, 1.0) and data.flip is False and data.flip_direction is None
    sample.pop('img_id')
    with pytest.raises(KeyError, match="'img_id' is not in the results"):
        PackDetInputs()(sample)
    assert 'img_id' not in PackDetInputs(meta_keys=('img_path', ))(sample)['data_samples']


def test_pack_seg_inputs(sample):
    sample['gt_seg_map'][0, 0] = 255
    sample.update(seg_map_path='a.png', reduce_zero_label=True)
    out = PackSegInputs()(sample)
    data = out['data_samples']
    assert isinstance(data, SegDataSample) and out['inputs'].shape == (3, 61, 93)
    seg = data.gt_sem_seg.data
    assert seg.dtype == torch.int64 and seg.shape == (1, 61, 93)
    assert torch.equal(seg[0], torch.from_numpy(sample['gt_seg_map'].astype(np.int64)))
    assert data.seg_map_path == 'a.png' and data.reduce_zero_label is True
    assert data.img_shape == data.ori_shape == (61, 93) and data.flip is False
    sample.pop('gt_seg_map')
    assert 'gt_sem_seg' not in PackSegInputs()(sample)['data_samples']

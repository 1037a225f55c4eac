"""ClsDataSample: label and score conversion (mmpretrain's DataSample semantics)."""
import numpy as np
import pytest
import torch

from vitdense.structures import ClsDataSample


@pytest.mark.parametrize('value', [3, np.int64(3), torch.tensor(3), np.array(3), [3],
                                   torch.tensor([3])])
def test_a_single_label_becomes_a_long_tensor_of_one(value):
    sample = ClsDataSample(gt_label=value)
    assert sample.gt_label.dtype == torch.int64 and sample.gt_label.tolist() == [3]
    assert 'gt_label' in sample and sample.keys() == ['gt_label']
    assert sample.to_dict() == dict(gt_label=sample.gt_label)


def test_setters_chain_and_convert():
    sample = ClsDataSample(metainfo=dict(img_shape=(64, 64)))
    out = sample.set_pred_score(np.array([0.2, 0.5, 0.3])).set_pred_label(torch.tensor(1))
    assert out is sample
    assert sample.pred_score.dtype == torch.float32 and sample.pred_score.shape == (3, )
    assert sample.pred_label.tolist() == [1] and sample.img_shape == (64, 64)
    half = torch.tensor([0.5, 0.5], dtype=torch.float16)
    assert sample.set_pred_score(half).pred_score.dtype == torch.float16  # tensors keep dtype
    del sample.pred_label
    assert 'pred_label' not in sample


@pytest.mark.parametrize('value', ['3', True, 2.0, torch.tensor(1.5), [[1, 2]]])
def test_bad_labels_raise(value):
    with pytest.raises(TypeError, match='label'):
        ClsDataSample().gt_label = value


def test_bad_scores_raise():
    with pytest.raises(ValueError, match=r'shape \(2, 2\)'):
        ClsDataSample().pred_score = torch.zeros(2, 2)
    with pytest.raises(TypeError, match='score'):
        ClsDataSample().pred_score = 0.5

import pytest
import torch
import torch.nn.functional as F

from vitdense.models.losses import CrossEntropyLoss
from vitdense.registry import MODELS


def seg_batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 7, 9, generator=g)
    labels = torch.randint(0, 5, (2, 7, 9), generator=g)
    labels[0, :3] = 255
    return logits, labels


def test_softmax_ce_ignores_255_and_averages_over_valid_pixels():
    logits, labels = seg_batch()
    loss = MODELS.build(dict(type='CrossEntropyLoss'))(logits, labels)
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels, ignore_index=255))
    all_pixels = CrossEntropyLoss(avg_non_ignore=False)(logits, labels)
    summed = F.cross_entropy(logits, labels, ignore_index=255, reduction='sum')
    torch.testing.assert_close(all_pixels, summed / labels.numel())


def test_softmax_ce_class_weight_and_loss_weight():
    logits, labels = seg_batch()
    cw = [1.0, 2.0, 0.5, 1.0, 3.0]
    loss = CrossEntropyLoss(class_weight=cw, loss_weight=0.4)(logits, labels)
    per_pixel = F.cross_entropy(logits, labels, weight=torch.tensor(cw), ignore_index=255,
                                reduction='sum')
    torch.testing.assert_close(loss, 0.4 * per_pixel / (labels != 255).sum())


def test_sigmoid_ce_soft_targets_like_centerness():
    logits, targets = torch.randn(11), torch.rand(11)
    loss = CrossEntropyLoss(use_sigmoid=True)(logits, targets, avg_factor=4.0)
    expected = F.binary_cross_entropy_with_logits(logits, targets, reduction='sum') / 4.0
    torch.testing.assert_close(loss, expected)


def test_sigmoid_ce_expands_integer_labels_and_ignores():
    logits = torch.randn(6, 3)
    labels = torch.tensor([0, 2, 3, 255, 1, 2])  # 3 = no class, 255 = ignored
    loss = CrossEntropyLoss(use_sigmoid=True)(logits, labels)
    onehot = F.one_hot(torch.tensor([0, 2, 3, 0, 1, 2]), 4)[:, :3].float()
    per_elem = F.binary_cross_entropy_with_logits(logits, onehot, reduction='none')
    valid = torch.tensor([1.0, 1, 1, 0, 1, 1])[:, None]
    torch.testing.assert_close(loss, (per_elem * valid).sum() / 15)


def test_softmax_ce_label_smoothing_matches_torch_with_ignored_pixels():
    logits, labels = seg_batch()
    loss = CrossEntropyLoss(label_smoothing=0.1)(logits, labels)
    torch.testing.assert_close(
        loss, F.cross_entropy(logits, labels, ignore_index=255, label_smoothing=0.1))
    assert not torch.allclose(loss, CrossEntropyLoss()(logits, labels))
    with pytest.raises(ValueError, match=r'label_smoothing must be in \[0, 1\)'):
        CrossEntropyLoss(label_smoothing=1.0)
    with pytest.raises(ValueError, match='softmax only'):
        CrossEntropyLoss(label_smoothing=0.1, use_sigmoid=True)

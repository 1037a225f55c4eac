import math

import pytest
import torch

from vitdense.models.losses import FocalLoss, sigmoid_focal_loss
from vitdense.registry import MODELS


def direct_focal(logits: torch.Tensor, onehot: torch.Tensor, alpha=0.25, gamma=2.0):
    """Lin et al. 2017, eq. 5, element by element in float64."""
    out = torch.zeros_like(logits, dtype=torch.float64)
    for idx in torch.cartesian_prod(*[torch.arange(s) for s in logits.shape]):
        x, t = float(logits[tuple(idx)]), float(onehot[tuple(idx)])
        p = 1 / (1 + math.exp(-x))
        if t == 1:
            out[tuple(idx)] = -alpha * (1 - p) ** gamma * math.log(p)
        else:
            out[tuple(idx)] = -(1 - alpha) * p ** gamma * math.log(1 - p)
    return out


def test_focal_loss_matches_the_formula():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(9, 4, generator=g) * 3
    labels = torch.tensor([0, 1, 2, 3, 4, 4, 1, 0, 4])  # 4 = background
    onehot = torch.nn.functional.one_hot(labels, 5)[:, :4].float()
    expected = direct_focal(logits, onehot)
    loss = sigmoid_focal_loss(logits, labels, reduction='none')
    torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=1e-7)
    # Labels and one-hot targets are the same thing; avg_factor divides the sum.
    torch.testing.assert_close(sigmoid_focal_loss(logits, onehot, avg_factor=6.0),
                               expected.sum().float() / 6.0, rtol=1e-5, atol=1e-7)
    assert torch.isclose(sigmoid_focal_loss(logits, labels), expected.mean().float())


def test_focal_loss_module_weights_and_registry():
    module = MODELS.build(dict(type='FocalLoss', loss_weight=2.0))
    assert isinstance(module, FocalLoss)
    logits, labels = torch.randn(5, 3), torch.tensor([0, 3, 1, 3, 2])
    weight = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    per_elem = sigmoid_focal_loss(logits, labels, reduction='none')
    expected = 2.0 * (per_elem * weight[:, None]).sum() / 3.0
    torch.testing.assert_close(module(logits, labels, weight=weight, avg_factor=3.0), expected)
    assert module(logits, labels, reduction_override='none').shape == (5, 3)


def test_focal_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match='reduction'):
        FocalLoss(reduction='avg')
    with pytest.raises(ValueError, match='target'):
        sigmoid_focal_loss(torch.randn(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match='avg_factor'):
        sigmoid_focal_loss(torch.randn(4, 3), torch.zeros(4), reduction='sum', avg_factor=2.0)

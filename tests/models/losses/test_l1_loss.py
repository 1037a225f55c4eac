import pytest
import torch

from vitdense.models.losses import L1Loss, l1_loss
from vitdense.registry import MODELS


def test_l1_loss_hand_values_weights_and_avg_factor():
    pred = torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    target = torch.tensor([[1.0, 1.0], [0.0, 5.0]])
    expected = torch.tensor([[1.0, 0.0], [2.0, 3.0]])
    torch.testing.assert_close(l1_loss(pred, target, reduction='none'), expected)
    assert l1_loss(pred, target).item() == pytest.approx(1.5)
    module = MODELS.build(dict(type='L1Loss', loss_weight=5.0))
    assert isinstance(module, L1Loss)
    # Summed over every element, divided by avg_factor (DETR: the number of boxes).
    assert module(pred, target, avg_factor=2.0).item() == pytest.approx(5.0 * 6.0 / 2.0)
    row_weight = torch.tensor([0.0, 1.0])
    assert module(pred, target, weight=row_weight, reduction_override='sum').item() == (
        pytest.approx(25.0))


def test_l1_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match='same shape'):
        l1_loss(torch.zeros(2, 4), torch.zeros(2, 3))

import torch

from vitdense.models.losses import GIoULoss, giou_loss
from vitdense.registry import MODELS


def test_giou_loss_of_identical_boxes_is_zero():
    boxes = torch.tensor([[0.0, 0.0, 4.0, 3.0], [10.0, 5.0, 30.0, 9.0]])
    assert giou_loss(boxes, boxes).abs().item() < 1e-6


def test_giou_loss_hand_values_weights_and_avg_factor():
    pred = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    target = torch.tensor([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 3.0, 1.0]])
    expected = torch.tensor([1 - (1 / 7 - 2 / 9), 1 + 1 / 3])
    torch.testing.assert_close(giou_loss(pred, target, reduction='none'), expected)
    module = MODELS.build(dict(type='GIoULoss', loss_weight=0.5))
    assert isinstance(module, GIoULoss)
    weight = torch.tensor([2.0, 1.0])
    torch.testing.assert_close(module(pred, target, weight=weight, avg_factor=4.0),
                               0.5 * (expected * weight).sum() / 4.0)


def test_giou_loss_gradient_moves_boxes_together():
    pred = torch.tensor([[0.0, 0.0, 2.0, 2.0]], requires_grad=True)
    target = torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    giou_loss(pred, target).backward()
    # Moving pred towards target (increasing every coordinate) lowers the loss.
    assert (pred.grad < 0).all()

"""Fixtures of the segmentation-decoder tests."""
import pytest
import torch


def _randomize(model: torch.nn.Module) -> None:
    """Weights of unit gain (HF's init gives logits of ~0.01, small enough to hide an error
    under a parity tolerance), biases, BN scales and running statistics away from their init."""
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim > 1:
                param.normal_(0, param[0].numel() ** -0.5)  # fan-in scaling
            else:
                param.uniform_(-0.5, 0.5)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)


@pytest.fixture
def randomize():
    """``randomize(model)``: re-draw a reference model's parameters and BN statistics."""
    return _randomize

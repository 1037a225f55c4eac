import math

import pytest
import torch

from vitdense.models.losses import QualityFocalLoss, quality_focal_loss, sigmoid_focal_loss
from vitdense.registry import MODELS


def direct_qfl(logits: torch.Tensor, targets: torch.Tensor, beta=2.0) -> torch.Tensor:
    """Li et al. 2020, eq. 5, element by element in float64."""
    out = torch.zeros_like(logits, dtype=torch.float64)
    for idx in torch.cartesian_prod(*[torch.arange(s) for s in logits.shape]):
        x, y = float(logits[tuple(idx)]), float(targets[tuple(idx)])
        p = 1 / (1 + math.exp(-x))
        out[tuple(idx)] = -abs(y - p) ** beta * ((1 - y) * math.log(1 - p) + y * math.log(p))
    return out


def soft_targets() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 3, generator=g) * 3
    targets = torch.zeros(7, 3)
    targets[0, 1], targets[3, 0], targets[5, 2] = 0.8, 0.35, 1.0
    return logits, targets


def test_quality_focal_loss_matches_the_formula():
    logits, targets = soft_targets()
    loss = quality_focal_loss(logits, targets, reduction='none')
    torch.testing.assert_close(loss.double(), direct_qfl(logits, targets), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(quality_focal_loss(logits, targets, beta=1.0, avg_factor=3.0),
                               direct_qfl(logits, targets, 1.0).sum().float() / 3.0)


def test_with_hard_targets_it_is_the_focal_loss_without_alpha():
    logits, targets = soft_targets()
    hard = (targets > 0).float()
    torch.testing.assert_close(quality_focal_loss(logits, hard, reduction='none'),
                               sigmoid_focal_loss(logits, hard, alpha=-1, reduction='none'))


def test_module_registry_weight_and_errors():
    module = MODELS.build(dict(type='QualityFocalLoss', loss_weight=2.0))
    assert isinstance(module, QualityFocalLoss) and module.quality_targets and module.use_sigmoid
    logits, targets = soft_targets()
    weight = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    expected = 2.0 * (quality_focal_loss(logits, targets, reduction='none')
                      * weight[:, None]).sum() / 4.0
    torch.testing.assert_close(module(logits, targets, weight=weight, avg_factor=4.0), expected)
    with pytest.raises(ValueError, match='soft scores'):
        quality_focal_loss(logits, torch.zeros(7, dtype=torch.long))
    with pytest.raises(ValueError, match='reduction'):
        QualityFocalLoss(reduction='avg')

"""Stochastic depth (Huang et al. 2016, "Deep Networks with Stochastic Depth", arXiv 1603.09382)."""
import torch
from torch import nn


def drop_path(x: torch.Tensor, prob: float, training: bool) -> torch.Tensor:
    """Zero whole samples of a residual branch with probability ``prob``, rescaling the rest."""
    if prob == 0.0 or not training:
        return x
    keep = 1.0 - prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    """Module form of :func:`drop_path`."""

    def __init__(self, prob: float = 0.0):
        super().__init__()
        self.prob = prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.prob, self.training)

    def extra_repr(self) -> str:
        return f'prob={self.prob}'


class LayerScale(nn.Module):
    """Per-channel residual scaling (Touvron et al. 2021, CaiT, arXiv 2103.17239)."""

    def __init__(self, dim: int, init_value: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init_value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma

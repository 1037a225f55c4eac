"""The transformer MLP."""
import torch
from torch import nn


class Mlp(nn.Module):
    """Linear -> GELU -> Linear, as in ViT (Dosovitskiy et al. 2020, arXiv 2010.11929)."""

    def __init__(self, dim: int, hidden_dim: int, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim, bias=bias)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))

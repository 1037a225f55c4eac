"""Normalisation layers chosen by name."""
import torch
from torch import nn
from torch.nn import functional as F


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW map (as in ConvNeXt and ViTDet's SimpleFPN)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (B, C, H, W) -> (B, H, W, C)
        x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)
        # Compiled with dynamic sizes, a graph output that is this permuted view has symbolic
        # strides that inductor (torch 2.13) cannot order: 'cannot determine truth value of
        # Relational'. In a compiled graph the copy fuses into the norm's kernel; eager keeps
        # the view.
        return x.contiguous() if torch.compiler.is_compiling() else x


def build_norm2d(name: str | None, channels: int) -> nn.Module:
    """A norm for NCHW maps: 'LN' (channel LayerNorm), 'GN' (32 groups), 'BN' or None."""
    if name is None:
        return nn.Identity()
    if name == 'LN':
        return LayerNorm2d(channels)
    if name == 'GN':
        return nn.GroupNorm(min(32, channels), channels)
    if name == 'BN':
        return nn.BatchNorm2d(channels)
    raise ValueError(f"Unknown norm {name!r}: use 'LN', 'GN', 'BN' or None.")


def conv_norm(in_channels: int, out_channels: int, kernel_size: int,
              norm: str | None) -> list[nn.Module]:
    """A same-padded conv and the norm chosen by name (the conv has a bias only without one)."""
    return [nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                      bias=norm is None), build_norm2d(norm, out_channels)]

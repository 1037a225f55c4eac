"""Stems that turn an image into the ViT's token grid, selected by config."""
import math

import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.layers import PatchEmbed, build_norm2d
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

MODELS.register_module(module=PatchEmbed)


def stem_output_shape(stem: nn.Module) -> dict[str, ShapeSpec]:
    """The extra maps a stem returns beside its token grid (``extra_output_shape()``, e.g. a
    hybrid stem's stride-4/8 maps), or none."""
    extra = getattr(stem, 'extra_output_shape', None)
    return extra() if extra is not None else {}


def split_stem_output(out: torch.Tensor | tuple) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A stem's output -> (token grid (B, dim, h, w), {name: extra map})."""
    return out if isinstance(out, tuple) else (out, {})


@MODELS.register_module()
class ConvStem(nn.Module):
    """Stacked 3x3 stride-2 convs with norm and ReLU, then a 1x1 projection to the ViT width.

    Xiao et al. 2021, "Early Convolutions Help Transformers See Better", arXiv 2106.14881.
    Inputs are zero-padded to a multiple of the stride, so the grid is ceil(H / stride).

    Args:
        in_channels: image channels.
        dim: ViT width.
        stride: total stride, a power of two (16, or 8).
        base_channels: width of the first conv; it doubles at every following conv.
        norm: norm after each 3x3 conv ('BN', 'GN', 'LN' or None).
    """

    def __init__(self, in_channels: int = 3, dim: int = 768, stride: int = 16,
                 base_channels: int = 64, norm: str | None = 'BN'):
        super().__init__()
        num = int(math.log2(stride))
        if 2 ** num != stride or num < 1:
            raise ValueError(f'ConvStem stride must be a power of two, got {stride}')
        self.stride = stride
        self.out_channels = dim
        layers, width_in = [], in_channels
        for i in range(num):
            width = base_channels * 2 ** i
            layers += [nn.Conv2d(width_in, width, 3, stride=2, padding=1, bias=norm is None),
                       build_norm2d(norm, width), nn.ReLU(inplace=True)]
            width_in = width
        layers.append(nn.Conv2d(width_in, dim, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, dim, ceil(H / stride), ceil(W / stride))."""
        pad_h, pad_w = (-x.shape[2]) % self.stride, (-x.shape[3]) % self.stride
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return self.layers(x)

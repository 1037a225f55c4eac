"""A ResNet-18-style stem of basic blocks for hybrid ViTs trained from scratch."""
import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.layers import build_norm2d
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec


class BasicBlock(nn.Module):
    """3x3 -> 3x3 with a norm after each, ReLU after the residual sum (He et al. 2016)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.norm1 = build_norm2d(norm, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.norm2 = build_norm2d(norm, out_channels)
        nn.init.zeros_(self.norm2.weight)  # each block starts as its shortcut
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                build_norm2d(norm, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)), inplace=True)
        return F.relu(self.norm2(self.conv2(y)) + self.shortcut(x), inplace=True)


@MODELS.register_module()
class BasicBlockStem(nn.Module):
    """A 3x3 stride-2 conv, then stages of basic blocks, each halving the resolution.

    The hybrid design of Dosovitskiy et al. 2020 ("An Image is Worth 16x16 Words",
    arXiv 2010.11929, section 3.1) with ResNet-18's basic blocks (He et al. 2016, "Deep Residual
    Learning for Image Recognition", arXiv 1512.03385) and BatchNorm: a convolutional prior
    that a ViT trained from scratch on little data learns much faster with (Xiao et al. 2021,
    arXiv 2106.14881). The last stage's map, projected to ``dim``, is the token grid; the maps
    of earlier stages named in ``extra_outputs`` (``p2`` = stride 4, ``p3`` = stride 8) are
    passed through the ViT to the neck, which can fuse them into its pyramid.

    Args:
        in_channels: image channels.
        dim: ViT width.
        widths: output channels of each stage; stage i has stride 2 ** (i + 2).
        depths: basic blocks per stage.
        stem_channels: width of the first stride-2 conv.
        extra_outputs: names of stage maps to return besides the token grid.
        norm: norm after each conv ('BN', 'GN', 'LN').
    """

    def __init__(self, in_channels: int = 3, dim: int = 192,
                 widths: tuple[int, ...] = (48, 96, 192), depths: tuple[int, ...] = (1, 2, 2),
                 stem_channels: int = 32, extra_outputs: tuple[str, ...] = (),
                 norm: str = 'BN'):
        super().__init__()
        if len(widths) != len(depths) or not widths:
            raise ValueError(f'BasicBlockStem needs one depth per width: widths={widths}, '
                             f'depths={depths}')
        self.stride = 2 ** (len(widths) + 1)
        self.out_channels = dim
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 3, 2, 1, bias=False),
            build_norm2d(norm, stem_channels), nn.ReLU(inplace=True))
        stages, prev = [], stem_channels
        for width, depth in zip(widths, depths):
            stages.append(nn.Sequential(*[BasicBlock(prev if i == 0 else width, width,
                                                     2 if i == 0 else 1, norm)
                                          for i in range(depth)]))
            prev = width
        self.stages = nn.ModuleList(stages)
        self.proj = nn.Conv2d(prev, dim, 1)
        names = {f'p{i + 2}': i for i in range(len(widths) - 1)}
        unknown = [n for n in extra_outputs if n not in names]
        if unknown:
            raise ValueError(f'BasicBlockStem extra_outputs {unknown} are not among the earlier '
                             f'stages {sorted(names)}')
        self.extra_outputs = {name: names[name] for name in extra_outputs}
        self._extra_shapes = {name: ShapeSpec(widths[i], 2 ** (i + 2))
                              for name, i in self.extra_outputs.items()}

    def extra_output_shape(self) -> dict[str, ShapeSpec]:
        """Channels and stride of the extra maps."""
        return dict(self._extra_shapes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """x: (B, C, H, W) -> (B, dim, ceil(H / stride), ceil(W / stride)), {name: map}."""
        pad_h, pad_w = (-x.shape[2]) % self.stride, (-x.shape[3]) % self.stride
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.stem(x)  # (B, stem_channels, H / 2, W / 2)
        extras = {}
        for i, stage in enumerate(self.stages):
            x = stage(x)  # (B, widths[i], H / 2 ** (i + 2), W / 2 ** (i + 2))
            for name, index in self.extra_outputs.items():
                if index == i:
                    extras[name] = x
        return self.proj(x), extras


"""CNN stems for hybrid ViTs: the R50+ViT ResNet stem and a ViT-Adapter spatial prior module.

Both are built by the ViT from its ``stem`` config (``default_args``: ``in_channels``, ``dim``)
and expose ``stride`` and ``out_channels`` like ``PatchEmbed``; their (B, dim, ceil(H / 16),
ceil(W / 16)) map becomes the token grid that reaches the PE slots.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.layers import build_norm2d
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """TF-style 'same' padding of (B, C, H, W) so that a conv gives ceil(H / stride) rows."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad order: width first
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


class StdConv2dSame(nn.Conv2d):
    """Weight-standardised convolution with 'same' padding, as in BiT and timm's R50 hybrid.

    Qiao et al. 2019, "Micro-Batch Training with Batch-Channel Normalization and Weight
    Standardization", arXiv 1903.10520. Each filter is standardised over (in, kh, kw).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 eps: float = 1e-8):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, bias=False)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        var, mean = torch.var_mean(w, dim=(1, 2, 3), keepdim=True, unbiased=False)
        w = (w - mean) / torch.sqrt(var + self.eps)
        x = pad_same(x, self.kernel_size[0], self.stride[0])
        return F.conv2d(x, w, None, self.stride)


class Downsample(nn.Module):
    """1x1 strided projection of the shortcut (timm's ``DownsampleConv``, non pre-activation)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, num_groups: int):
        super().__init__()
        self.conv = StdConv2dSame(in_channels, out_channels, 1, stride)
        self.norm = nn.GroupNorm(num_groups, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 with GroupNorm, ReLU after the residual sum (ResNet v1.5)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, num_groups: int):
        super().__init__()
        mid = out_channels // 4
        self.downsample = (Downsample(in_channels, out_channels, stride, num_groups)
                           if stride != 1 or in_channels != out_channels else None)
        self.conv1 = StdConv2dSame(in_channels, mid, 1)
        self.norm1 = nn.GroupNorm(num_groups, mid)
        self.conv2 = StdConv2dSame(mid, mid, 3, stride)
        self.norm2 = nn.GroupNorm(num_groups, mid)
        self.conv3 = StdConv2dSame(mid, out_channels, 1)
        self.norm3 = nn.GroupNorm(num_groups, out_channels)
        nn.init.zeros_(self.norm3.weight)  # each block starts as its shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = F.relu(self.norm1(self.conv1(x)))
        x = F.relu(self.norm2(self.conv2(x)))
        return F.relu(self.norm3(self.conv3(x)) + shortcut)


class ResNetStage(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, depth: int, stride: int,
                 num_groups: int):
        super().__init__()
        self.blocks = nn.Sequential(*[
            Bottleneck(in_channels if i == 0 else out_channels, out_channels,
                       stride if i == 0 else 1, num_groups) for i in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class ResNetV2Trunk(nn.Module):
    """7x7/2 stem conv, GroupNorm, ReLU, 3x3/2 max-pool, then bottleneck stages (1, 2, 2, ...)."""

    def __init__(self, in_channels: int, stem_channels: int, widths: tuple[int, ...],
                 depths: tuple[int, ...], num_groups: int):
        super().__init__()
        self.stem = nn.ModuleDict(dict(conv=StdConv2dSame(in_channels, stem_channels, 7, 2),
                                       norm=nn.GroupNorm(num_groups, stem_channels)))
        stages, prev = [], stem_channels
        for i, (width, depth) in enumerate(zip(widths, depths)):
            stages.append(ResNetStage(prev, width, depth, 1 if i == 0 else 2, num_groups))
            prev = width
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem['norm'](self.stem['conv'](x)))
        x = F.max_pool2d(pad_same(x, 3, 2, value=float('-inf')), 3, 2)
        for stage in self.stages:
            x = stage(x)
        return x


@MODELS.register_module()
class ResNetHybridStem(nn.Module):
    """The ResNet stem of R50+ViT-B/16: weight-standardised convs with GroupNorm, stride 16.

    Dosovitskiy et al. 2020, "An Image is Worth 16x16 Words", arXiv 2010.11929 (hybrid
    architecture); BiT, Kolesnikov et al. 2019, arXiv 1912.11370 (ResNetV2 with GN + WS).
    Key names match timm's ``vit_base_r50_s16_*`` (``patch_embed.backbone.*``,
    ``patch_embed.proj.*``), so timm hybrid checkpoints convert with ``--from timm``.

    Args:
        in_channels: image channels.
        dim: ViT width.
        depths: bottleneck blocks per stage; (3, 4, 9) is R50's first three stages.
        widths: output channels per stage.
        stem_channels: width of the 7x7 stem conv.
        num_groups: GroupNorm groups (must divide every width and every width / 4).
    """

    def __init__(self, in_channels: int = 3, dim: int = 768, depths: tuple[int, ...] = (3, 4, 9),
                 widths: tuple[int, ...] = (256, 512, 1024), stem_channels: int = 64,
                 num_groups: int = 32):
        super().__init__()
        if len(depths) != len(widths) or not depths:
            raise ValueError(f'ResNetHybridStem needs one width per stage: depths={depths}, '
                             f'widths={widths}')
        bad = [c for c in (stem_channels, *widths, *(w // 4 for w in widths)) if c % num_groups]
        if bad:
            raise ValueError(f'ResNetHybridStem: channels {bad} are not divisible by '
                             f'num_groups={num_groups}; change widths or num_groups')
        self.stride = 4 * 2 ** (len(depths) - 1)
        self.out_channels = dim
        self.backbone = ResNetV2Trunk(in_channels, stem_channels, tuple(widths), tuple(depths),
                                      num_groups)
        self.proj = nn.Conv2d(widths[-1], dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, dim, ceil(H / stride), ceil(W / stride))."""
        return self.proj(self.backbone(x))


def _conv_norm_act(in_channels: int, out_channels: int, stride: int, norm: str) -> list:
    return [nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            build_norm2d(norm, out_channels), nn.ReLU(inplace=True)]


@MODELS.register_module()
class SpatialPriorStem(nn.Module):
    """A ViT-Adapter spatial prior module used as the stem, with stride-4 and stride-8 maps too.

    Chen et al. 2022, "Vision Transformer Adapter for Dense Predictions", arXiv 2205.08534
    (``SpatialPriorModule``). Its stride-16 map is the ViT's token grid; its stride-4 and
    stride-8 maps, projected to ``dim``, are extra pyramid levels ``p2`` and ``p3`` for the neck,
    so that a plain ViT gets a true multi-scale pyramid. The adapter's injector/extractor
    cross-attention between the two branches is not part of this stem.

    ``forward`` returns ``(tokens_map, {'p2': ..., 'p3': ...})`` and ``extra_output_shape()``
    describes the extra maps; the ViT passes them through to its outputs.

    Args:
        in_channels: image channels.
        dim: ViT width (and width of the extra maps).
        channels: width of the stride-4 map; stride 8 and 16 have 2x and 4x.
        norm: norm after each conv ('BN', 'GN', 'LN').
    """

    def __init__(self, in_channels: int = 3, dim: int = 768, channels: int = 64,
                 norm: str = 'BN'):
        super().__init__()
        self.stride = 16
        self.out_channels = dim
        self.stem = nn.Sequential(*_conv_norm_act(in_channels, channels, 2, norm),
                                  *_conv_norm_act(channels, channels, 1, norm),
                                  *_conv_norm_act(channels, channels, 1, norm),
                                  nn.MaxPool2d(3, stride=2, padding=1))
        self.conv2 = nn.Sequential(*_conv_norm_act(channels, 2 * channels, 2, norm))
        self.conv3 = nn.Sequential(*_conv_norm_act(2 * channels, 4 * channels, 2, norm))
        self.fc1 = nn.Conv2d(channels, dim, 1)
        self.fc2 = nn.Conv2d(2 * channels, dim, 1)
        self.fc3 = nn.Conv2d(4 * channels, dim, 1)

    def extra_output_shape(self) -> dict[str, ShapeSpec]:
        """Channels and stride of the extra maps."""
        return {'p2': ShapeSpec(self.out_channels, 4), 'p3': ShapeSpec(self.out_channels, 8)}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """x: (B, C, H, W) -> (B, dim, ceil(H / 16), ceil(W / 16)) and the stride-4/8 maps."""
        c1 = self.stem(x)  # (B, channels, ceil(H / 4), ceil(W / 4))
        c2 = self.conv2(c1)  # (B, 2 * channels, ceil(H / 8), ceil(W / 8))
        c3 = self.conv3(c2)  # (B, 4 * channels, ceil(H / 16), ceil(W / 16))
        return self.fc3(c3), {'p2': self.fc1(c1), 'p3': self.fc2(c2)}

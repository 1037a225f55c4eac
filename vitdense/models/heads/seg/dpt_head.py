"""DPT's decoder: reassemble four ViT blocks into a pyramid, fuse it top-down, classify."""
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.layers import build_norm2d
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

from .conv_module import conv_norm_relu
from .decode_head import BaseDecodeHead

READOUTS = ('ignore', 'add', 'project')


class Reassemble(nn.Module):
    """One level of DPT's Reassemble: the cls token's readout, a 1x1 projection to
    ``channels`` and a resize by ``factor`` (a k x k stride-k transposed conv for k = factor
    > 1, nothing for 1, a 3x3 conv of stride 1 / factor below 1).

    Readout: 'ignore' drops the token, 'add' adds it to every position, 'project' concatenates
    it to every position and maps the 2 * dim back to dim by a linear layer and GELU.
    """

    def __init__(self, dim: int, channels: int, factor: float, readout: str):
        super().__init__()
        self.readout = readout
        self.readout_proj = (nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())
                             if readout == 'project' else None)
        self.project = nn.Conv2d(dim, channels, 1)
        if factor > 1:
            self.resize = nn.ConvTranspose2d(channels, channels, int(factor), stride=int(factor))
        elif factor == 1:
            self.resize = nn.Identity()
        else:
            self.resize = nn.Conv2d(channels, channels, 3, stride=round(1 / factor), padding=1)

    def forward(self, x: torch.Tensor, cls: Optional[torch.Tensor]) -> torch.Tensor:
        """x: (B, dim, h, w), cls: (B, dim) or None -> (B, channels, h * f, w * f); a stride-k
        subsampled side is ceil(side / k)."""
        if self.readout == 'add':
            x = x + cls[:, :, None, None]
        elif self.readout == 'project':
            b, d, h, w = x.shape
            tokens = x.flatten(2).transpose(1, 2)  # (B, h * w, dim)
            tokens = torch.cat([tokens, cls[:, None].expand_as(tokens)], dim=-1)  # (.., 2 dim)
            x = self.readout_proj(tokens).transpose(1, 2).reshape(b, d, h, w)  # (B, dim, h, w)
        return self.resize(self.project(x))


class ResidualConvUnit(nn.Module):
    """x + norm(conv(relu(norm(conv(relu(x)))))): DPT's pre-activation residual unit, 3x3 convs
    (with a bias only without a norm). (B, C, h, w) -> same shape."""

    def __init__(self, channels: int, norm: str | None):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=norm is None)
        self.norm1 = build_norm2d(norm, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=norm is None)
        self.norm2 = build_norm2d(norm, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(self.conv1(F.relu(x)))
        return x + self.norm2(self.conv2(F.relu(y)))


class FeatureFusion(nn.Module):
    """DPT's fusion block: add the level's map through a residual unit (all but the coarsest
    block), a second residual unit, bilinear upsampling (corners aligned) and a 1x1 conv."""

    def __init__(self, channels: int, norm: str | None, with_lateral: bool):
        super().__init__()
        self.rcu1 = ResidualConvUnit(channels, norm) if with_lateral else None
        self.rcu2 = ResidualConvUnit(channels, norm)
        self.project = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, size: tuple[int, int],
                lateral: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x, lateral: (B, C, h, w) -> (B, C, *size)."""
        if lateral is not None:
            x = x + self.rcu1(lateral)
        x = F.interpolate(self.rcu2(x), size=size, mode='bilinear', align_corners=True)
        return self.project(x)


@MODELS.register_module()
class DPTHead(BaseDecodeHead):
    """DPT's decoder for semantic segmentation, over the maps of several ViT blocks.

    Ranftl et al. 2021, "Vision Transformers for Dense Prediction", arXiv 2103.13413. Each
    block's map of stride s is reassembled (:class:`Reassemble`: readout of its cls token,
    projection to ``reassemble_channels[i]``, resize by ``reassemble_factors[i]`` to stride
    s / f_i) and brought to ``channels`` by a 3x3 conv; fusion blocks run top-down from the
    coarsest level, each upsampling to the next level's size (the finest one's: 2x); the head
    is conv-norm-ReLU, dropout, a 1x1 classifier and a 2x bilinear upsampling (the paper's and
    HF's segmentation head). Logits come at ``out_stride`` = s / (4 f_0): 1 for ViT-B/16.

    HF ``DPTForSemanticSegmentation`` (and mmseg) upsample each fused map by exactly 2 and
    resize the next level to it; here the fused map is upsampled to that level's size. Both are
    the same when each level is exactly twice the next coarser one (patch grids of even sides
    with factors 4, 2, 1, 0.5); with an odd side, the stride-2 level has ceil(side / 2) rows
    and the fused map is fitted to the finer level instead of stretching past it.

    Args:
        input_shape: the backbone's ``output_shape()``; with readout 'add' or 'project' it has
            each block's cls token ``{name}_cls`` (a ViT with ``out_cls_token=True``).
        num_classes: classes to predict (without the ignored label).
        in_features: the blocks' maps, finest level first (ViT-B: ``('b2', 'b5', 'b8', 'b11')``).
        readout: 'ignore', 'add' or 'project' (see :class:`Reassemble`).
        reassemble_channels: projection width of each level (ViT-B: 96, 192, 384, 768).
        reassemble_factors: resize factor of each level: an integer k >= 1 or 1 / k.
        channels: width of the fusion blocks and the head.
        norm: norm of the residual units and the head's conv ('BN' as DPT's segmentation
            model; 'GN', 'LN' or None).
        dropout: dropout before the classifier.
        ignore_index, loss_decode, align_corners: see :class:`BaseDecodeHead`.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: tuple[str, ...] = ('b2', 'b5', 'b8', 'b11'),
                 readout: str = 'project',
                 reassemble_channels: tuple[int, ...] = (96, 192, 384, 768),
                 reassemble_factors: tuple[float, ...] = (4, 2, 1, 0.5), channels: int = 256,
                 norm: str | None = 'BN', dropout: float = 0.1, ignore_index: int = 255,
                 loss_decode: dict | list[dict] | None = None, align_corners: bool = False):
        super().__init__(input_shape, num_classes, in_features, ignore_index, loss_decode,
                         align_corners)
        names = self.in_features
        if readout not in READOUTS:
            raise ValueError(f'DPTHead: readout must be one of {READOUTS}, got {readout!r}')
        if not len(names) == len(reassemble_channels) == len(reassemble_factors):
            raise ValueError(f'DPTHead: one reassemble channel width and factor per input: '
                             f'in_features {list(names)}, reassemble_channels '
                             f'{list(reassemble_channels)}, reassemble_factors '
                             f'{list(reassemble_factors)}')
        bad = [f for f in reassemble_factors
               if f <= 0 or (f >= 1 and f != int(f)) or (f < 1 and 1 / f != round(1 / f))]
        if bad:
            raise ValueError(f'DPTHead: reassemble_factors must be integers k >= 1 or 1 / k, '
                             f'got {bad}')
        if any(self.input_shape[n].stride <= 0 for n in names):
            raise ValueError(f'DPTHead: in_features {list(names)} must be maps, not tokens '
                             f'(stride 0)')
        self.readout = readout
        self.cls_features: tuple[str, ...] = ()
        if readout != 'ignore':
            self.cls_features = tuple(f'{n}_cls' for n in names)
            for name, token in zip(names, self.cls_features):
                spec = input_shape.get(token)
                if spec is None or spec.stride != 0 or spec.channels != input_shape[name].channels:
                    raise KeyError(
                        f'DPTHead: readout {readout!r} reads the cls token {token!r} (stride 0, '
                        f'{input_shape[name].channels} channels), which the inputs '
                        f'{sorted(input_shape)} do not have; build the ViT with '
                        "use_cls_token=True, out_cls_token=True, or set readout='ignore'")
        self.reassemble = nn.ModuleList(
            Reassemble(self.input_shape[n].channels, c, f, readout)
            for n, c, f in zip(names, reassemble_channels, reassemble_factors))
        self.convs = nn.ModuleList(nn.Conv2d(c, channels, 3, padding=1, bias=False)
                                   for c in reassemble_channels)
        self.fusion = nn.ModuleList(FeatureFusion(channels, norm, with_lateral=i < len(names) - 1)
                                    for i in range(len(names)))
        self.head = conv_norm_relu(channels, channels, 3, norm)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        self.out_stride = self.input_shape[names[0]].stride / reassemble_factors[0] / 4

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats[in_features[i]]: (B, dim_i, h, w), feats[f'{name}_cls']: (B, dim_i) ->
        logits (B, num_classes, 4 h f_0, 4 w f_0)."""
        missing = [k for k in self.cls_features if k not in feats]
        if missing:
            raise KeyError(f'DPTHead: readout {self.readout!r} needs the cls tokens {missing}, '
                           f'missing from the features {sorted(feats)}')
        tokens = [feats[k] for k in self.cls_features] or [None] * len(self.in_features)
        levels = [conv(stage(x, cls)) for stage, conv, x, cls in
                  zip(self.reassemble, self.convs, self.inputs(feats), tokens)]  # (B, ch, ..)
        x = levels[-1]
        for i in range(len(levels) - 1, -1, -1):  # top-down
            h, w = levels[i - 1].shape[-2:] if i else (2 * s for s in levels[0].shape[-2:])
            x = self.fusion[i](x, (h, w), levels[i] if i < len(levels) - 1 else None)
        logits = self.classifier(self.dropout(self.head(x)))  # (B, K, 2 h_0, 2 w_0)
        return F.interpolate(logits, scale_factor=2, mode='bilinear', align_corners=True)

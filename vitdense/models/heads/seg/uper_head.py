"""UPerNet's decoder: pyramid pooling on the coarsest map, an FPN, fusion at the finest."""
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.layers import AdaptiveAvgPool2d
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

from .conv_module import conv_norm_relu
from .decode_head import BaseDecodeHead


@MODELS.register_module()
class UPerHead(BaseDecodeHead):
    """UPerNet's decode head over a feature pyramid (mmseg's ``UPerHead``).

    Xiao et al. 2018, "Unified Perceptual Parsing for Scene Understanding", arXiv 1807.10221;
    its pyramid pooling module (PPM) is PSPNet's (Zhao et al. 2017, arXiv 1612.01105).

    With inputs x_0 (finest) ... x_n (coarsest): the PPM average-pools x_n to each of
    ``pool_scales`` (s x s), projects each to ``channels``, upsamples them back and a 3x3 conv
    fuses them with x_n into the top lateral; 1x1 laterals project x_0 ... x_{n-1}; a top-down
    pass adds each upsampled lateral to the one below, 3x3 convs smooth all but the top, every
    level is upsampled to x_0's size, concatenated and fused by a 3x3 conv, then classified.
    Every conv is conv + norm + ReLU; all resizing is bilinear (``align_corners``).

    Args:
        input_shape: the neck's (or backbone's) ``output_shape()``.
        num_classes: classes to predict (without the ignored label).
        in_features: maps to decode, finest first (strides must not decrease; equal strides,
            e.g. ViT blocks without a neck, are allowed); the stride-keyed ``p*`` maps when None.
        channels: width of the laterals, the PPM branches and the fused map.
        pool_scales: output sides of the PPM's adaptive average pools.
        norm: norm after each conv ('BN' as UPerNet; 'GN', 'LN' or None). With 'BN', training
            needs more than one image per batch (the 1 x 1 pool has one value per image).
        dropout: dropout (channel-wise) before the classifier.
        ignore_index, loss_decode, align_corners: see :class:`BaseDecodeHead`; ``align_corners``
            also of the internal resizing.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: tuple[str, ...] | None = None, channels: int = 512,
                 pool_scales: tuple[int, ...] = (1, 2, 3, 6), norm: str | None = 'BN',
                 dropout: float = 0.1, ignore_index: int = 255,
                 loss_decode: dict | list[dict] | None = None, align_corners: bool = False):
        super().__init__(input_shape, num_classes, in_features, ignore_index, loss_decode,
                         align_corners)
        strides = {n: self.input_shape[n].stride for n in self.in_features}
        order = list(strides.values())
        if min(order) <= 0 or order != sorted(order):
            raise ValueError(f'UPerHead: in_features must be maps ordered finest first, got '
                             f'strides {strides} (stride 0 is a token); reorder in_features')
        if not pool_scales or min(pool_scales) < 1:
            raise ValueError(f'UPerHead: pool_scales must be sides >= 1, got {pool_scales}')
        widths = [self.input_shape[n].channels for n in self.in_features]
        top = widths[-1]
        self.ppm = nn.ModuleList(
            nn.Sequential(AdaptiveAvgPool2d(s), conv_norm_relu(top, channels, 1, norm))
            for s in pool_scales)
        self.ppm_bottleneck = conv_norm_relu(top + len(pool_scales) * channels, channels, 3, norm)
        self.lateral_convs = nn.ModuleList(conv_norm_relu(w, channels, 1, norm)
                                           for w in widths[:-1])
        self.fpn_convs = nn.ModuleList(conv_norm_relu(channels, channels, 3, norm)
                                       for _ in widths[:-1])
        self.fpn_bottleneck = conv_norm_relu(len(widths) * channels, channels, 3, norm)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats[in_features[i]]: (B, C_i, h_i, w_i) -> logits (B, num_classes, h_0, w_0)."""
        resize = partial(F.interpolate, mode='bilinear', align_corners=self.align_corners)
        maps = self.inputs(feats)
        top = maps[-1]  # (B, C_n, h_n, w_n)
        pooled = [resize(ppm(top), size=top.shape[-2:]) for ppm in self.ppm]  # (B, ch, h_n, w_n)
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, maps)]  # (B, ch, h_i, w_i)
        laterals.append(self.ppm_bottleneck(torch.cat([top, *pooled], dim=1)))
        for i in range(len(laterals) - 1, 0, -1):  # top-down
            laterals[i - 1] = laterals[i - 1] + resize(laterals[i], size=laterals[i - 1].shape[-2:])
        outs = [conv(x) for conv, x in zip(self.fpn_convs, laterals)] + [laterals[-1]]
        size = outs[0].shape[-2:]
        fused = torch.cat([outs[0], *(resize(x, size=size) for x in outs[1:])], dim=1)
        return self.classifier(self.dropout(self.fpn_bottleneck(fused)))  # (B, K, h_0, w_0)

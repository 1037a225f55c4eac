"""A stack of convs on one map: FCN's decoder, used as UPerNet's auxiliary head."""
import torch
from torch import nn

from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

from .conv_module import conv_norm_relu
from .decode_head import BaseDecodeHead


@MODELS.register_module()
class FCNHead(BaseDecodeHead):
    """``num_convs`` conv-norm-ReLU on one map, optionally fused with the map, then classified.

    Long et al. 2015, "Fully Convolutional Networks for Semantic Segmentation", arXiv 1411.4038,
    as mmseg's ``FCNHead`` (without dilation). As an auxiliary head (UPerNet's: one 3x3 conv of
    256 on a stride-16 map, ``concat_input=False``), it weighs its loss through its own
    ``loss_decode``, e.g. ``dict(type='CrossEntropyLoss', loss_weight=0.4)``.

    Args:
        input_shape: the neck's (or backbone's) ``output_shape()``.
        num_classes: classes to predict (without the ignored label).
        in_features: the one map to decode, e.g. ``('p4',)``; with None, the stride-keyed maps,
            which must then be one.
        channels: width of the convs.
        num_convs: conv-norm-ReLU layers (0: the map itself, whose width must be ``channels``).
        kernel_size: odd side of the convs.
        concat_input: concatenate the map with the convs' output and fuse them by one more
            conv-norm-ReLU.
        norm: norm after each conv ('BN'; 'GN', 'LN' or None).
        dropout: dropout (channel-wise) before the classifier.
        ignore_index, loss_decode, align_corners: see :class:`BaseDecodeHead`.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: tuple[str, ...] | None = None, channels: int = 256,
                 num_convs: int = 2, kernel_size: int = 3, concat_input: bool = True,
                 norm: str | None = 'BN', dropout: float = 0.1, ignore_index: int = 255,
                 loss_decode: dict | list[dict] | None = None, align_corners: bool = False):
        super().__init__(input_shape, num_classes, in_features, ignore_index, loss_decode,
                         align_corners)
        spec = self.input_shape[self.in_features[0]]
        if len(self.in_features) != 1 or spec.stride <= 0:
            raise ValueError(f'FCNHead decodes one map; got in_features {self.in_features}: '
                             "set in_features to one map's key, e.g. ('p4',)")
        if kernel_size % 2 == 0 or num_convs < 0:
            raise ValueError(f'FCNHead: kernel_size must be odd and num_convs >= 0; got '
                             f'{kernel_size}, {num_convs}')
        if num_convs == 0 and spec.channels != channels:
            raise ValueError(f'FCNHead: with num_convs=0 the map {self.in_features[0]!r} is '
                             f'classified as it is, so channels must be its width '
                             f'{spec.channels}, got {channels}')
        widths = [spec.channels] + [channels] * num_convs
        self.convs = nn.Sequential(*(conv_norm_relu(w, channels, kernel_size, norm)
                                     for w in widths[:-1]))  # empty: the identity
        self.conv_cat = (conv_norm_relu(spec.channels + channels, channels, kernel_size, norm)
                         if concat_input else None)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats[in_features[0]]: (B, C, h, w) -> logits (B, num_classes, h, w)."""
        x = self.inputs(feats)[0]
        y = self.convs(x)  # (B, channels, h, w)
        if self.conv_cat is not None:
            y = self.conv_cat(torch.cat([x, y], dim=1))  # (B, C + channels, h, w) -> channels
        return self.classifier(self.dropout(y))

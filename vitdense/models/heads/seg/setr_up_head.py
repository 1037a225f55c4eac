"""SETR's naive and progressive-upsampling decoders over one ViT map."""
import torch
from torch import nn

from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

from .conv_module import conv_norm_relu
from .decode_head import BaseDecodeHead


@MODELS.register_module()
class SETRUPHead(BaseDecodeHead):
    """``num_convs`` x (conv, norm, ReLU, bilinear ``up_scale`` x upsampling), then a 1x1
    classifier: SETR's decoders (Zheng et al. 2021, "Rethinking Semantic Segmentation from a
    Sequence-to-Sequence Perspective with Transformers", arXiv 2012.15840), as mmseg's
    ``SETRUPHead``.

    - SETR-naive: ``num_convs=1, kernel_size=1, up_scale=1``: 1x1 conv + BN + ReLU + 1x1
      classifier at the input stride; the bilinear upsampling to the image is the loss's and the
      segmentor's resize.
    - SETR-PUP: ``num_convs=4, kernel_size=3, up_scale=2``: four 2x steps, from stride 16 to 1.

    The input is not normalised again: the ViT's ``out_norm`` LayerNorm plays the part of the
    LayerNorm mmseg's head applies to the tokens.

    Args:
        input_shape: the backbone's (or neck's) ``output_shape()``.
        num_classes: classes to predict (without the ignored label).
        in_features: the one map to decode, e.g. ``('p4',)`` or ``('b9',)``; with None, the
            stride-keyed maps, which must then be one.
        channels: width of the convs.
        num_convs: conv (+ upsampling) stages.
        kernel_size: odd side of the convs (SETR: 1 naive, 3 PUP).
        up_scale: upsampling factor after each conv (1: none).
        norm: norm after each conv ('BN', as SETR's SyncBN; 'GN', 'LN' or None).
        dropout: dropout before the classifier.
        ignore_index, loss_decode, align_corners: see :class:`BaseDecodeHead`; ``align_corners``
            also of the upsampling.

    ``out_stride`` = input stride / ``up_scale ** num_convs``, which must divide it.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: tuple[str, ...] | None = None, channels: int = 256,
                 num_convs: int = 4, kernel_size: int = 3, up_scale: int = 2,
                 norm: str | None = 'BN', dropout: float = 0.1, ignore_index: int = 255,
                 loss_decode: dict | list[dict] | None = None, align_corners: bool = False):
        super().__init__(input_shape, num_classes, in_features, ignore_index, loss_decode,
                         align_corners)
        name = type(self).__name__
        spec = self.single_map()
        if kernel_size % 2 == 0 or num_convs < 1 or up_scale < 1:
            raise ValueError(f'{name}: kernel_size must be odd, num_convs and up_scale >= 1; '
                             f'got {kernel_size}, {num_convs}, {up_scale}')
        total = up_scale ** num_convs
        if spec.stride % total:
            raise ValueError(f'{name}: {num_convs} upsamplings by {up_scale} ({total}x) overshoot '
                             f'the input stride {spec.stride}; use fewer or smaller steps')
        self.out_stride = spec.stride // total
        layers: list[nn.Module] = []
        width = spec.channels
        for _ in range(num_convs):
            layers.append(conv_norm_relu(width, channels, kernel_size, norm))
            if up_scale > 1:
                layers.append(nn.Upsample(scale_factor=up_scale, mode='bilinear',
                                          align_corners=align_corners))
            width = channels
        self.convs = nn.Sequential(*layers)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats[in_features[0]]: (B, C, h, w) -> logits (B, num_classes, h * u, w * u), u =
        ``up_scale ** num_convs``."""
        x = self.convs(self.inputs(feats)[0])  # (B, channels, h * u, w * u)
        return self.classifier(self.dropout(x))

"""SETR's multi-level feature aggregation decoder over several ViT blocks."""
import torch
from torch import nn

from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

from .conv_module import conv_norm_relu
from .decode_head import BaseDecodeHead


@MODELS.register_module()
class SETRMLAHead(BaseDecodeHead):
    """SETR-MLA: multi-level feature aggregation of several blocks' maps (Zheng et al. 2021,
    "Rethinking Semantic Segmentation from a Sequence-to-Sequence Perspective with
    Transformers", arXiv 2012.15840), as mmseg's ``MLANeck`` followed by its ``SETRMLAHead``.

    Per input ``i`` (shallow to deep, in ``in_features`` order): a 1x1 conv to
    ``mla_channels``; top-down aggregation, the deepest first, ``m_i = sum_{j >= i} lateral_j``;
    a 3x3 conv on each ``m_i``; then per stream two 3x3 convs to ``head_channels`` and a
    bilinear ``up_scale`` x upsampling. The streams are concatenated and classified by a 1x1
    conv. Every conv is followed by ``norm`` and ReLU.

    Args:
        input_shape: the backbone's (or neck's) ``output_shape()``.
        num_classes: classes to predict (without the ignored label).
        in_features: the maps to aggregate, shallow to deep, all at one stride, e.g.
            ``('b2', 'b5', 'b8', 'b11')``; None: the stride-keyed maps.
        mla_channels: width of the laterals and the aggregation.
        head_channels: width of each stream's head (the classifier sees
            ``len(in_features) * head_channels``).
        up_scale: upsampling of each stream; ``out_stride`` = input stride / ``up_scale``.
        norm: norm after each conv ('BN', as SETR's SyncBN; 'GN', 'LN' or None).
        dropout: dropout before the classifier.
        ignore_index, loss_decode, align_corners: see :class:`BaseDecodeHead`; ``align_corners``
            also of the upsampling.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: tuple[str, ...] | None = None, mla_channels: int = 256,
                 head_channels: int = 128, up_scale: int = 4, norm: str | None = 'BN',
                 dropout: float = 0.1, ignore_index: int = 255,
                 loss_decode: dict | list[dict] | None = None, align_corners: bool = False):
        super().__init__(input_shape, num_classes, in_features, ignore_index, loss_decode,
                         align_corners)
        name = type(self).__name__
        strides = {n: s.stride for n, s in self.input_shape.items()}
        if len(set(strides.values())) != 1 or 0 in strides.values():
            raise ValueError(f'{name} aggregates maps of one stride; in_features have the '
                             f'strides {strides}: choose blocks of one ViT (b{{i}} keys)')
        stride = next(iter(strides.values()))
        if up_scale < 1 or stride % up_scale:
            raise ValueError(f'{name}: up_scale {up_scale} must divide the input stride {stride}')
        self.out_stride = stride // up_scale
        self.lateral = nn.ModuleList(
            conv_norm_relu(s.channels, mla_channels, 1, norm) for s in self.input_shape.values())
        self.aggregate = nn.ModuleList(
            conv_norm_relu(mla_channels, mla_channels, 3, norm) for _ in self.in_features)
        self.heads = nn.ModuleList(
            nn.Sequential(conv_norm_relu(mla_channels, head_channels, 3, norm),
                          conv_norm_relu(head_channels, head_channels, 3, norm),
                          nn.Upsample(scale_factor=up_scale, mode='bilinear',
                                      align_corners=align_corners))
            for _ in self.in_features)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.classifier = nn.Conv2d(len(self.in_features) * head_channels, num_classes, 1)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats: n maps (B, C_i, h, w) -> logits (B, num_classes, h * u, w * u), u =
        ``up_scale``."""
        laterals = [conv(x) for conv, x in zip(self.lateral, self.inputs(feats))]  # (B, M, h, w)
        streams: list[torch.Tensor] = []
        running = 0
        for i in reversed(range(len(laterals))):  # top-down: the deepest block first
            running = running + laterals[i]
            streams.append(self.heads[i](self.aggregate[i](running)))  # (B, D, h * u, w * u)
        x = torch.cat(streams[::-1], dim=1)  # (B, n * D, h * u, w * u), shallow first
        return self.classifier(self.dropout(x))

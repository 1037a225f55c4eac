"""DINOv2's linear segmentation probe: BatchNorm and a 1x1 classifier on concatenated blocks."""
import torch
from torch import nn
from torch.nn import functional as F

from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class LinearHead(BaseDecodeHead):
    """Concatenate maps and cls tokens, BatchNorm, 1x1 conv: DINOv2's linear evaluation of
    semantic segmentation (Oquab et al. 2023, "DINOv2: Learning Robust Visual Features without
    Supervision", arXiv 2304.07193; its ``BNHead``).

    ``in_features`` lists maps (``b{i}``, ``p*``) and tokens (``b{i}_cls``, stride 0) in
    concatenation order, as DINOv2's ``in_index``. Its segmentation heads read maps only:
    "linear" the last block (``('b11',)`` on a ViT-B), "+ms" the last four (with a 640 px input
    and a multi-scale test, which are the config's). Tokens are what its ``BNHead`` also takes,
    as 1x1 maps, for the depth heads that add each block's cls token ("lin. 4": ``('b8',
    'b8_cls', ..., 'b11', 'b11_cls')``). A token is broadcast over the grid; maps coarser than
    the finest are resized bilinearly to it. The BatchNorm is a plain ``BatchNorm2d``, for
    mmengine's ``sync_bn`` to convert to SyncBN.

    Args:
        input_shape: the backbone's (or neck's) ``output_shape()``.
        num_classes: classes to predict (without the ignored label).
        in_features: maps and tokens to concatenate, at least one map; None: the stride-keyed
            maps.
        dropout: dropout before the classifier (DINOv2: 0).
        ignore_index, loss_decode, align_corners: see :class:`BaseDecodeHead`; ``align_corners``
            also of the resize of coarser maps.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: tuple[str, ...] | None = None, dropout: float = 0.0,
                 ignore_index: int = 255, loss_decode: dict | list[dict] | None = None,
                 align_corners: bool = False):
        super().__init__(input_shape, num_classes, in_features, ignore_index, loss_decode,
                         align_corners)
        if not self.out_stride:
            raise ValueError(f'{type(self).__name__} needs at least one map among in_features '
                             f'{self.in_features} (all are tokens of stride 0): add a block '
                             "map, e.g. 'b11' for 'b11_cls'")
        channels = sum(s.channels for s in self.input_shape.values())
        self.bn = nn.BatchNorm2d(channels)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        nn.init.normal_(self.classifier.weight, std=0.01)  # mmseg's init of the classifier
        nn.init.zeros_(self.classifier.bias)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats: maps (B, C_i, h_i, w_i) and tokens (B, C_j) -> logits (B, K, h, w) at the
        finest map's size (h, w)."""
        inputs = self.inputs(feats)
        size = max((x for x in inputs if x.ndim == 4), key=lambda x: x.shape[-1]).shape[-2:]
        parts = []
        for x in inputs:
            if x.ndim == 2:  # a token: (B, C) -> (B, C, h, w)
                x = x[:, :, None, None].expand(-1, -1, *size)
            elif x.shape[-2:] != size:
                x = F.interpolate(x, size=size, mode='bilinear', align_corners=self.align_corners)
            parts.append(x)
        x = self.bn(torch.cat(parts, dim=1))  # (B, sum C_i, h, w)
        return self.classifier(self.dropout(x))

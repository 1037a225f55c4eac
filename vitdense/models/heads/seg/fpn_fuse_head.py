"""A light semantic-segmentation decoder over a feature pyramid."""
import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.layers import build_norm2d
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class FPNFuseHead(BaseDecodeHead):
    """Project each pyramid level, upsample to the finest one, sum, and classify.

    The semantic branch of Panoptic FPN (Kirillov et al. 2019, "Panoptic Feature Pyramid
    Networks", arXiv 1901.02446) reduced to one conv per level.

    Args:
        input_shape: the neck's (or backbone's) ``output_shape()``.
        num_classes: classes to predict (without the ignored label).
        in_features: which maps to fuse; the stride-keyed ``p*`` maps when None.
        channels: width of the fused map.
        norm: norm after each conv.
        dropout: dropout before the classifier.
        ignore_index, loss_decode, align_corners: see :class:`BaseDecodeHead`. Set
            ``class_weight`` in ``loss_decode`` to re-weight classes (e.g. a dominant background).
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: tuple[str, ...] | None = None, channels: int = 128,
                 norm: str | None = 'GN', dropout: float = 0.1, ignore_index: int = 255,
                 loss_decode: dict | list[dict] | None = None, align_corners: bool = False):
        super().__init__(input_shape, num_classes, in_features, ignore_index, loss_decode,
                         align_corners)
        names = self.in_features
        self.lateral = nn.ModuleDict({
            n: nn.Sequential(nn.Conv2d(input_shape[n].channels, channels, 3, padding=1,
                                       bias=norm is None),
                             build_norm2d(norm, channels), nn.ReLU(inplace=True))
            for n in names})
        self.fuse = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=norm is None),
                                  build_norm2d(norm, channels), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats -> logits (B, num_classes, H / s, W / s) at the finest input stride s."""
        maps = self.inputs(feats)
        size = max(maps, key=lambda t: t.shape[-1]).shape[-2:]
        fused = 0
        for name, x in zip(self.in_features, maps):
            y = self.lateral[name](x)
            if y.shape[-2:] != size:
                y = F.interpolate(y, size=size, mode='bilinear', align_corners=False)
            fused = fused + y
        return self.classifier(self.dropout(self.fuse(fused)))

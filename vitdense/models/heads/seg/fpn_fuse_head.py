"""A light semantic-segmentation decoder over a feature pyramid."""
import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.layers import build_norm2d
from vitdense.registry import MODELS
from vitdense.structures import SegDataSample, ShapeSpec


@MODELS.register_module()
class FPNFuseHead(nn.Module):
    """Project each pyramid level, upsample to the finest one, sum, and classify.

    The semantic branch of Panoptic FPN (Kirillov et al. 2019, "Panoptic Feature Pyramid
    Networks", arXiv 1901.02446) reduced to one conv per level.

    Args:
        input_shape: the neck's (or backbone's) ``output_shape()``.
        num_classes: classes to predict (without the ignored label).
        in_features: which maps to fuse; all of them when None.
        channels: width of the fused map.
        norm: norm after each conv.
        dropout: dropout before the classifier.
        ignore_index: label ignored by the loss.
        loss_decode: config of the pixel loss (mmseg's key), built with ``ignore_index``;
            None: ``CrossEntropyLoss`` averaged over non-ignored pixels. Set ``class_weight``
            there to re-weight classes (e.g. a dominant background).
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: tuple[str, ...] | None = None, channels: int = 128,
                 norm: str | None = 'GN', dropout: float = 0.1, ignore_index: int = 255,
                 loss_decode: dict | None = None):
        super().__init__()
        names = tuple(in_features) if in_features else tuple(input_shape)
        missing = [n for n in names if n not in input_shape]
        if missing:
            raise KeyError(f'FPNFuseHead in_features {missing} are not among the inputs '
                           f'{sorted(input_shape)}')
        self.in_features = names
        self.num_classes = num_classes
        loss_decode = loss_decode or dict(type='CrossEntropyLoss', avg_non_ignore=True)
        self.loss_ce = MODELS.build(loss_decode, default_args=dict(ignore_index=ignore_index))
        self.out_stride = min(input_shape[n].stride for n in names)
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
        finest = max((feats[n] for n in self.in_features), key=lambda t: t.shape[-1])
        size = finest.shape[-2:]
        fused = 0
        for name in self.in_features:
            y = self.lateral[name](feats[name])
            if y.shape[-2:] != size:
                y = F.interpolate(y, size=size, mode='bilinear', align_corners=False)
            fused = fused + y
        return self.classifier(self.dropout(self.fuse(fused)))

    def loss(self, feats: dict[str, torch.Tensor],
             data_samples: list[SegDataSample]) -> dict[str, torch.Tensor]:
        """Pixel-wise cross-entropy at the padded input resolution."""
        logits = self.forward(feats)
        target = torch.stack([s.gt_sem_seg.data for s in data_samples]).squeeze(1).long()
        logits = F.interpolate(logits, size=target.shape[-2:], mode='bilinear',
                               align_corners=False)  # (B, K, H, W)
        return dict(loss_ce=self.loss_ce(logits.float(), target))

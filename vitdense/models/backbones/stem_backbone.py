"""A stem alone as the backbone: the CNN reference the ViT recipes are measured against."""
import torch
from torch import nn

from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec, stride_key

from .stems import split_stem_output, stem_output_shape


@MODELS.register_module()
class StemBackbone(nn.Module):
    """Runs one of the ViT stems (e.g. ``BasicBlockStem``) without any transformer block.

    Its output map is keyed ``p{log2(stride)}`` like a ViT's, and a stem's extra maps pass
    through, so a config swaps ``type='ViT'`` for this and keeps its neck and head: the same
    pipeline with a plain CNN, to tell what the transformer blocks add.

    Args:
        stem: config of a stem; it gets ``in_channels`` and ``dim`` and exposes ``stride``.
        dim: width of the output map.
        in_channels: image channels.
    """

    def __init__(self, stem: dict, dim: int = 192, in_channels: int = 3):
        super().__init__()
        self.stem = MODELS.build(stem, default_args=dict(in_channels=in_channels, dim=dim))
        self.dim = dim
        self.name = stride_key(self.stem.stride)

    def output_shape(self) -> dict[str, ShapeSpec]:
        """Channels and stride of every returned map."""
        return {self.name: ShapeSpec(self.dim, self.stem.stride),
                **stem_output_shape(self.stem)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: (B, C, H, W) -> {p*: (B, dim, ceil(H / stride), ceil(W / stride)), extras}."""
        out, extras = split_stem_output(self.stem(x))
        return {self.name: out, **extras}

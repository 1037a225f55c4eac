"""ViTDet's residual bottleneck conv block, interleaved with the transformer blocks."""
import torch
from torch import nn

from vitdense.models.utils.shifted_conv import token_map_conv

from .norm import LayerNorm2d


class ResBottleneckBlock(nn.Module):
    """x + norm(conv1x1(act(norm(conv3x3(act(norm(conv1x1(x)))))))) on the token grid.

    Li et al. 2022, "Exploring Plain Vision Transformer Backbones for Object Detection",
    arXiv 2203.16527 (the "residual" propagation variant). The last norm starts at zero, so a
    freshly added block is the identity and does not disturb pretrained weights.
    """

    def __init__(self, dim: int, bottleneck: int | None = None):
        super().__init__()
        bottleneck = bottleneck or dim // 2
        self.conv1 = nn.Conv2d(dim, bottleneck, 1, bias=False)
        self.norm1 = LayerNorm2d(bottleneck)
        self.conv2 = nn.Conv2d(bottleneck, bottleneck, 3, padding=1, bias=False)
        self.norm2 = LayerNorm2d(bottleneck)
        self.conv3 = nn.Conv2d(bottleneck, dim, 1, bias=False)
        self.norm3 = LayerNorm2d(dim)
        self.act = nn.GELU()
        nn.init.zeros_(self.norm3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> same shape."""
        y = self.act(self.norm1(token_map_conv(x, self.conv1)))  # compiles at any size
        y = self.act(self.norm2(token_map_conv(y, self.conv2)))
        return x + self.norm3(token_map_conv(y, self.conv3))

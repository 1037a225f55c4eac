"""Patch embedding: a strided convolution, with padding for any input size."""
import torch
from torch import nn
from torch.nn import functional as F


class PatchEmbed(nn.Module):
    """Cut an image into ``patch_size`` patches and project them to ``dim``.

    Inputs whose sides are not multiples of the patch size are zero-padded at the bottom/right.
    """

    def __init__(self, patch_size: int = 16, in_channels: int = 3, dim: int = 768):
        super().__init__()
        self.patch_size = patch_size
        self.stride = patch_size
        self.out_channels = dim
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) -> (B, dim, ceil(H / p), ceil(W / p))."""
        p = self.patch_size
        pad_h, pad_w = (-x.shape[2]) % p, (-x.shape[3]) % p
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return self.proj(x)

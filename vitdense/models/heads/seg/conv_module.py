"""The conv-norm-ReLU unit of the convolutional decoders (mmcv's ``ConvModule``)."""
from torch import nn

from vitdense.models.layers import conv_norm


def conv_norm_relu(in_channels: int, out_channels: int, kernel_size: int,
                   norm: str | None) -> nn.Sequential:
    """A same-padded conv (with a bias only without a norm), the norm chosen by name, ReLU.

    (B, in_channels, h, w) -> (B, out_channels, h, w); children ``0`` (conv), ``1`` (norm).
    """
    return nn.Sequential(*conv_norm(in_channels, out_channels, kernel_size, norm),
                         nn.ReLU(inplace=True))

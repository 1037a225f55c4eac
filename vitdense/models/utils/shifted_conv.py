"""Convolutions of token maps in a form inductor compiles at symbolic sizes."""
import torch
from torch import nn
from torch.nn import functional as F


def conv2d_by_shifts(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` as a sum over the kernel's offsets of shifted 1x1 products.

    For stride 1, dilation 1, zero padding, and dense (``groups=1``) or depthwise (``groups``
    equal to the channels) kernels: ``sum_{i,j} W[:, :, i, j] x_pad[:, :, i:i+H', j:j+W']``, a
    matmul per offset (an elementwise product when depthwise). The same values as the
    convolution up to summation order. Inductor (torch 2.13) fails to lower ``aten.convolution``
    of a map whose size is symbolic when the map was made from ViT tokens (``ValueRangeError:
    Invalid ranges [0:-1]``); this form has only slices, matmuls and adds.

    Args:
        x: (B, C, H, W).
        conv: the convolution whose weights and options to use.

    Returns:
        (B, O, H', W') as ``conv(x)``.
    """
    depthwise = conv.groups == conv.in_channels == conv.out_channels
    if (conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.padding_mode != 'zeros'
            or isinstance(conv.padding, str) or not (conv.groups == 1 or depthwise)):
        raise ValueError(f'conv2d_by_shifts takes stride 1, dilation 1, zero padding and dense '
                         f'or depthwise kernels, got {conv}')
    weight = conv.weight  # (O, C or 1, kh, kw)
    kh, kw = weight.shape[-2:]
    ph, pw = conv.padding
    padded = F.pad(x, (pw, pw, ph, ph)) if ph or pw else x
    out_h, out_w = x.shape[-2] + 2 * ph - kh + 1, x.shape[-1] + 2 * pw - kw + 1
    out = None
    for i in range(kh):
        for j in range(kw):
            patch = padded[:, :, i:i + out_h, j:j + out_w]  # (B, C, H', W')
            if depthwise:
                term = patch * weight[:, 0, i, j].to(patch.dtype)[None, :, None, None]
            else:
                term = torch.einsum('bchw,oc->bohw', patch, weight[:, :, i, j].to(patch.dtype))
            out = term if out is None else out + term
    if conv.bias is not None:
        out = out + conv.bias.to(out.dtype)[None, :, None, None]
    return out


def token_map_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` for a map made from tokens: the convolution itself in eager mode, and
    :func:`conv2d_by_shifts` while torch.compile traces (so any input size compiles)."""
    if torch.compiler.is_compiling():
        return conv2d_by_shifts(x, conv)
    return conv(x)

"""Window partitioning for windowed attention (as in Swin and ViTDet), as pure functions."""
import torch
from torch.nn import functional as F

from vitdense.models.utils.tracing import is_tracing


def pad_to_multiple(x: torch.Tensor, multiple: int,
                    value: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad a (B, H, W, C) map at the bottom/right so H and W are multiples of ``multiple``.

    Args:
        x: (B, H, W, C).
        multiple: the window side.
        value: (C,) vector for the padded positions (e.g. a projection's bias, which is what
            zero padding becomes after that projection); None pads with zeros.

    Returns:
        The padded map (B, Hp, Wp, C) and the padded size (Hp, Wp).
    """
    b, h, w, c = x.shape
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    # While a graph is traced the padding is always recorded (maybe of size 0): a branch on a
    # symbolic size would fix the graph to the export size.
    tracing = is_tracing()
    if value is None and (tracing or pad_h or pad_w):
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    elif value is not None:
        value = value.to(x.dtype)
        if tracing or pad_w:
            x = torch.cat([x, value.expand(b, h, pad_w, c)], dim=2)  # (B, H, Wp, C)
        if tracing or pad_h:
            x = torch.cat([x, value.expand(b, pad_h, w + pad_w, c)], dim=1)  # (B, Hp, Wp, C)
    return x, (h + pad_h, w + pad_w)


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """Split (B, Hp, Wp, C) into (B * nH * nW, window * window, C); Hp, Wp multiples of window."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)  # (B, nH, wh, nW, ww, C)
    x = x.permute(0, 1, 3, 2, 4, 5)  # (B, nH, nW, wh, ww, C)
    return x.reshape(-1, window * window, c)  # (B * nH * nW, wh * ww, C)


def window_unpartition(windows: torch.Tensor, window: int, padded_hw: tuple[int, int],
                       hw: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`window_partition` and crop the padding: back to (B, H, W, C)."""
    hp, wp = padded_hw
    c = windows.shape[-1]
    x = windows.view(-1, hp // window, wp // window, window, window, c)  # (B, nH, nW, wh, ww, C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, hp, wp, c)  # (B, Hp, Wp, C)
    return x[:, :hw[0], :hw[1]].contiguous()

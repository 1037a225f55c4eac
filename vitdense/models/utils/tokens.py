"""Token sequences to feature maps, in a form that compiles at any input size."""
import torch


def tokens_to_map(tokens: torch.Tensor, hw: tuple[int, int],
                  memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """(B, h * w, C) row-major grid tokens -> a (B, C, h, w) map, contiguous in
    ``memory_format``: ``torch.channels_last`` is the tokens' own layout (no copy), and keeps
    the convolutions after it in oneDNN's NHWC layout (see :func:`memory_format_of`).

    The same values as ``tokens.transpose(1, 2).reshape(B, C, h, w)``; that reshape of a
    transposed tensor made inductor (torch 2.13) fail when compiling with dynamic sizes
    (``ValueRangeError: Invalid ranges [0:-1]`` in its index arithmetic) at the demo detector's
    validation, while this is a view and one copy.
    """
    return tokens.unflatten(1, hw).permute(0, 3, 1, 2).contiguous(memory_format=memory_format)


def memory_format_of(x: torch.Tensor) -> torch.memory_format:
    """``torch.channels_last`` for a (B, C, H, W) tensor stored channels-last (and not also
    plain contiguous), else ``torch.contiguous_format``: a backbone gives its maps the layout
    of its input, as torch's convolutions do."""
    if (x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
            and not x.is_contiguous()):
        return torch.channels_last
    return torch.contiguous_format

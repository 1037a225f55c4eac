"""Token sequences to feature maps, in a form that compiles at any input size."""
import torch


def tokens_to_map(tokens: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """(B, h * w, C) row-major grid tokens -> a contiguous (B, C, h, w) map.

    The same values as ``tokens.transpose(1, 2).reshape(B, C, h, w)``; that reshape of a
    transposed tensor made inductor (torch 2.13) fail when compiling with dynamic sizes
    (``ValueRangeError: Invalid ranges [0:-1]`` in its index arithmetic) at the demo detector's
    validation, while this is a view and one copy.
    """
    return tokens.unflatten(1, hw).permute(0, 3, 1, 2).contiguous()

"""Reductions over distributed ranks that a loss needs (no-ops in a single process)."""
from mmengine.dist import all_reduce
from torch import Tensor


def mean_over_ranks(value: Tensor) -> Tensor:
    """Mean of a tensor over the distributed ranks (a copy of it when not distributed).

    Losses normalise by counts (positives, target boxes) averaged this way, so every rank divides
    by the same number; every rank must call it, with or without objects of its own.
    """
    value = value.detach().clone()
    all_reduce(value, op='mean')
    return value

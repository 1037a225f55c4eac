"""The three position-encoding slots of a ViT and their contracts.

A ViT calls a position encoding (PE) in up to three places (DESIGN.md, "Position encodings"):

1. :class:`TokenPosEncoding`, once after patch embedding: tokens in, tokens out.
2. :class:`ConditionalPosEncoding`, between blocks at configured indices: tokens + grid in,
   tokens out.
3. :class:`AttentionPosEncoding`, inside every attention: may rotate q/k and/or return an
   additive logit bias for ``F.scaled_dot_product_attention``, for a window or the global grid.

Each is built from ``POS_ENCODINGS`` with the constructor arguments listed on its base class
given by the ViT through ``default_args``; a plugin's constructor accepts exactly those (and its
own options). Token sequences are (B, P + H * W, C): P prefix tokens (cls, registers) first,
then the patch grid in row-major order. Attention code never branches on a PE's type.
"""
from abc import ABCMeta, abstractmethod
from typing import Callable

import torch
from torch import nn

from vitdense.models.layers.tracing import is_tracing

Grid = tuple[int, int]


class ResampleCache:
    """Caches tensors derived from parameters per grid size while they cannot change.

    In training, a derived table must be recomputed every forward so that gradients reach the
    parameters; in eval mode (or under ``torch.no_grad``) it is computed once per key and kept
    until a parameter changes (tracked through the tensors' version counters). While a graph is
    being traced (``torch.export``, ``torch.compile``, ONNX export) it is always recomputed: the
    grid may be symbolic, and a cached tensor would enter the graph as a constant.
    """

    def __init__(self):
        self._store: dict = {}

    def get(self, module: nn.Module, key: tuple, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
        if (module.training and torch.is_grad_enabled()) or is_tracing():
            return fn()
        versions = tuple(p._version for p in module.parameters(recurse=False))
        full_key = key + (versions,)
        value = self._store.get(full_key)
        if value is None:
            with torch.no_grad():
                value = fn()
            if len(self._store) > 32:
                self._store.clear()
            self._store[full_key] = value
        return value


class TokenPosEncoding(nn.Module, metaclass=ABCMeta):
    """Slot 1: added (or applied) once to the tokens after patch embedding.

    Constructor arguments given by the ViT: ``dim`` (token width), ``ref_grid`` (the patch grid
    the PE was defined or trained at) and ``num_prefix_tokens``.
    """

    #: Why an ONNX graph of a ViT with this PE would be valid only at its export size, or None
    #: when a symbolic height and width work (checked for the built-in PEs by
    #: tests/tools/test_export_onnx.py). ``tools/deploy/export_onnx.py --dynamic`` refuses a
    #: model holding a PE that gives a reason (docs/deploy.md).
    onnx_static_reason: str | None = None

    @abstractmethod
    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        """x: (B, P + H * W, C) with ``hw`` = (H, W) and P = ``num_prefix`` -> same shape."""


class ConditionalPosEncoding(nn.Module, metaclass=ABCMeta):
    """Slot 2: applied between blocks; constructor argument given by the ViT: ``dim``."""

    #: Why an ONNX graph of a ViT with this PE would be valid only at its export size, or None
    #: when a symbolic height and width work (checked for the built-in PEs by
    #: tests/tools/test_export_onnx.py). ``tools/deploy/export_onnx.py --dynamic`` refuses a
    #: model holding a PE that gives a reason (docs/deploy.md).
    onnx_static_reason: str | None = None

    @abstractmethod
    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        """x: (B, P + H * W, C) -> same shape."""


class AttentionPosEncoding(nn.Module, metaclass=ABCMeta):
    """Slot 3: acts on queries and keys inside each attention.

    Constructor arguments given by the ViT: ``num_heads``, ``head_dim`` and ``ref_grid`` (the
    window size for windowed attention, else the global patch grid at the reference size).
    """

    #: Why an ONNX graph of a ViT with this PE would be valid only at its export size, or None
    #: when a symbolic height and width work (checked for the built-in PEs by
    #: tests/tools/test_export_onnx.py). ``tools/deploy/export_onnx.py --dynamic`` refuses a
    #: model holding a PE that gives a reason (docs/deploy.md).
    onnx_static_reason: str | None = None

    @abstractmethod
    def forward(self, q: torch.Tensor, k: torch.Tensor, hw: Grid,
                num_prefix: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return (q, k, bias).

        Args:
            q, k: (B, heads, P + h * w, head_dim) for one window or the whole grid.
            hw: (h, w), the grid these tokens cover.
            num_prefix: P, prefix tokens that have no grid position.

        Returns:
            q and k (possibly rotated) and an additive logit bias broadcastable to
            (B, heads, N, N), or None. A bias of the form ``r_h[i, y_j] + r_w[i, x_j]`` may
            be returned factored, as a ``DecomposedBias`` (vitdense.models.layers); the
            attention then applies it by query chunks without making the N x N tensor. A PE
            may also append the same number of channels to q and k (to fold a bias into the
            dot product); the attention then pads v to match, keeps the softmax scale at
            head_dim^-0.5 and drops the extra output channels.
        """

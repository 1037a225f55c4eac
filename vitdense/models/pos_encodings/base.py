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

What tests and the weight loader read from a PE is declared on these base classes, with the
value a plugin gets if it sets nothing (``TEST_CONFIGS``, ``RELATIVE``, ``ref_grid``,
``prefix_entries``, ``mode``).
"""
import inspect
from abc import ABCMeta, abstractmethod
from typing import Callable, ClassVar

import torch
from torch import nn

from vitdense.models.utils.tracing import is_tracing

from .resample import ResampleMode

Grid = tuple[int, int]


class PosEncoding(nn.Module, metaclass=ABCMeta):
    """What every slot declares.

    Attributes:
        TEST_CONFIGS: extra constructor arguments, one dict per variant, with which the
            registry-wide tests (tests/models/pos_encodings) build this PE in a tiny ViT.
        onnx_static_reason: why an ONNX graph of a ViT with this PE would be valid only at its
            export size, or None when a symbolic height and width work (checked for the
            built-in PEs by tests/tools/test_export_onnx.py); ``tools/deploy/export_onnx.py
            --dynamic`` refuses a model holding a PE that gives a reason (docs/deploy.md).
    """

    TEST_CONFIGS: ClassVar[tuple[dict, ...]] = ({},)
    onnx_static_reason: ClassVar[str | None] = None

    def adapt_state_dict(self, state_dict: dict, prefix: str, meta: dict) -> list[str]:
        """Fit this PE's tensors in a pretrained ``state_dict`` to this module, in place.

        Called by the ViT's weight loader before loading (``backbones/vit_weights.py``).

        Args:
            state_dict: the checkpoint in vitdense keys; this PE's are ``prefix + name``.
            prefix: this module's key prefix, e.g. ``'pos_embed.'`` or
                ``'blocks.3.attn.pos_enc.'``.
            meta: the checkpoint's conventions (``tools/convert_weights.py`` metadata:
                ``source``, ``ref_grid``, ``pos_prefix_entries``, ``pos_embed_resample``).

        Returns:
            One line per change made, for the load report. The default changes nothing.
        """
        return []

    @classmethod
    def accepts(cls, name: str) -> bool:
        """Whether the constructor takes argument ``name`` (or ``**kwargs``)."""
        params = inspect.signature(cls.__init__).parameters
        return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


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


class TokenPosEncoding(PosEncoding):
    """Slot 1: added (or applied) once to the tokens after patch embedding.

    Constructor arguments given by the ViT: ``dim`` (token width), ``ref_grid`` (the patch grid
    the PE was defined or trained at) and ``num_prefix_tokens``; and ``window_size`` (the side
    of the ViT's windowed blocks, 0 for none) to a PE whose constructor names it.

    Attributes:
        ref_grid: (H, W) the PE was built for (the ViT's reference grid).
        prefix_entries: table rows for prefix tokens, in front of the grid rows (0: none); the
            weight loader fits a checkpoint's rows to this.
        mode: how a grid table is resampled to another grid, or None for a PE that is not a
            resampled table. A checkpoint's convention replaces the default when weights are
            loaded, unless the config chose one (see :meth:`adapt_state_dict`).
    """

    ref_grid: Grid
    prefix_entries: int = 0
    mode: ResampleMode | None = None

    @abstractmethod
    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        """x: (B, P + H * W, C) with ``hw`` = (H, W) and P = ``num_prefix`` -> same shape."""


class ConditionalPosEncoding(PosEncoding):
    """Slot 2: applied between blocks; constructor argument given by the ViT: ``dim``."""

    @abstractmethod
    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        """x: (B, P + H * W, C) -> same shape."""


class AttentionPosEncoding(PosEncoding):
    """Slot 3: acts on queries and keys inside each attention.

    Constructor arguments given by the ViT: ``num_heads``, ``head_dim`` and ``ref_grid`` (the
    window size for windowed attention, else the global patch grid at the reference size).

    Attributes:
        RELATIVE: the logits depend only on the offsets between tokens, never on where they are
            (tests check that shifting the content shifts the attention); False opts out.
        ref_grid: (H, W) the PE was built for.
    """

    RELATIVE: ClassVar[bool] = True
    ref_grid: Grid

    @abstractmethod
    def forward(self, q: torch.Tensor, k: torch.Tensor, hw: Grid,
                num_prefix: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return (q, k, bias).

        Args:
            q, k: (B, heads, P + h * w, head_dim) for one window or the whole grid.
            hw: (h, w), the grid these tokens cover.
            num_prefix: P, prefix tokens that have no grid position.

        Returns:
            q and k (possibly rotated, same shapes) and a logit bias of the protocol in
            :mod:`vitdense.models.pos_encodings.attention_bias`: None, a tensor broadcastable
            to (B, heads, N, N), or an ``AttentionBias`` that applies itself to
            ``(q, k, v, scale)`` (factored, table-gathered, or extra q/k channels), so that no
            N x N tensor needs to be made.
        """

"""Decomposed relative position (MViTv2 / ViTDet): height and width tables read by the query."""

import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.utils.cpu import cpu_has_amx
from vitdense.models.utils.tracing import is_tracing
from vitdense.registry import POS_ENCODINGS

from .attention_bias import ExtraChannelsBias
from .base import AttentionPosEncoding, Grid, ResampleCache
from .decomposed_attention import DecomposedBias
from .grid import device_key, grid_coords, pad_prefix, tensor_cache


def get_rel_pos(size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Embeddings of the offsets between ``size`` query and key positions: (size, size, C).

    ``rel_pos`` (L, C) is linearly interpolated (``align_corners=False``) to 2 * size - 1 rows
    when L differs, as detectron2's ``get_rel_pos`` does for equal query and key sizes (and
    always while a graph is traced, where ``size`` may be symbolic).
    """
    length = 2 * size - 1
    if is_tracing() or rel_pos.shape[0] != length:
        table = rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1)  # (1, C, L)
        table = F.interpolate(table, size=length, mode='linear')  # (1, C, 2 * size - 1)
        rel_pos = table.reshape(-1, length).permute(1, 0)  # (2 * size - 1, C)
    coords = torch.arange(size, device=rel_pos.device)
    index = coords[:, None] - coords[None, :] + (size - 1)  # (size, size)
    return rel_pos[index]


@tensor_cache()
def key_position_channels(hw: Grid, num_prefix: int, device: torch.device) -> torch.Tensor:
    """One-hot row and column of every key, zero for prefix keys: (P + h * w, h + w).

    With these appended to k and ``q_i . R[. - y]`` appended to q, the dot product of the
    extended vectors adds ``q_i . R_h[y_i - y_j] + q_i . R_w[x_i - x_j]`` to the logit.
    """
    coords = grid_coords(hw[0], hw[1], device)  # (N, 2) as (y, x)
    onehot = torch.cat([F.one_hot(coords[:, 0], hw[0]), F.one_hot(coords[:, 1], hw[1])], dim=1)
    return F.pad(onehot.float(), (0, 0, num_prefix, 0))  # (P + N, h + w)


@POS_ENCODINGS.register_module()
class DecomposedRelPosPE(AttentionPosEncoding):
    """Adds ``q_i . R_h[y_i - y_j] + q_i . R_w[x_i - x_j]`` to the logits, with the unscaled q.

    Li et al. 2022, "MViTv2: Improved Multiscale Vision Transformers for Classification and
    Detection", arXiv 2112.01526; Li et al. 2022, "Exploring Plain Vision Transformer Backbones
    for Object Detection" (ViTDet), arXiv 2203.16527; detectron2's ``add_decomposed_rel_pos``.

    ``rel_pos_h`` (2H - 1, head_dim) and ``rel_pos_w`` (2W - 1, head_dim) are defined at the
    reference grid (the window for windowed blocks) and linearly interpolated to 2h - 1 and
    2w - 1 for another grid. Prefix tokens get a zero bias. The bias depends on q, so it is
    returned factored, as a :class:`DecomposedBias` of the two (B, heads, N, h) and
    (B, heads, N, w) terms: the attention applies it by query chunks and recomputes each chunk
    in backward, so that no (B, heads, N, N) tensor is made or kept (``bias`` gives the dense
    one, and adding a tensor to the factored bias makes it dense).

    Folded into q and k, the bias is an :class:`ExtraChannelsBias`: q gets the h + w values
    ``q_i . R_h[y_i - y]`` and ``q_i . R_w[x_i - x]`` appended, k the one-hot row and column of
    its token, so the extended dot product is the logit plus the bias, and SDPA keeps its fused
    kernel (on head_dim + h + w channels, v padded to match): the same result for ~3x the
    attention's matmul FLOPs and no bias rows written. Which is faster depends on the CPU
    (ViT-B ViTDet at 1024 px, bf16, 2 threads; docs/benchmarks.md): on a Xeon with AMX the fold
    is 1.21x faster forward and 1.06x forward+backward; on an AVX-512 EPYC without AMX it was
    1.8x slower forward. ``fold_into_qk='auto'`` (the default) folds on a CPU with AMX
    (:func:`vitdense.models.utils.cpu.cpu_has_amx`) and keeps the chunked bias elsewhere (other
    CPUs, GPUs: not measured there).

    Args:
        num_heads, head_dim: of the attention.
        ref_grid: (H, W) the tables are defined at.
        zero_init: start from zero tables (ViTDet's default); else truncated normal.
        init_std: std of the truncated-normal initialisation when ``zero_init`` is False.
        fold_into_qk: True: return the bias as extra q and k channels (see above); False: as a
            chunked :class:`DecomposedBias`; 'auto': folded for tensors on a CPU with AMX.
    """

    TEST_CONFIGS = (dict(zero_init=False), dict(fold_into_qk=True), dict(fold_into_qk=False))

    def __init__(self, num_heads: int, head_dim: int, ref_grid: Grid, zero_init: bool = True,
                 init_std: float = 0.02, fold_into_qk: bool | str = 'auto'):
        super().__init__()
        if fold_into_qk not in (True, False, 'auto'):
            raise ValueError(f"DecomposedRelPosPE: fold_into_qk must be True, False or 'auto', "
                             f'got {fold_into_qk!r}')
        self.ref_grid, self.fold_into_qk = tuple(ref_grid), fold_into_qk
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * self.ref_grid[0] - 1, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * self.ref_grid[1] - 1, head_dim))
        if not zero_init:
            nn.init.trunc_normal_(self.rel_pos_h, std=init_std)
            nn.init.trunc_normal_(self.rel_pos_w, std=init_std)
        self._cache = ResampleCache()

    def adapt_state_dict(self, state_dict: dict, prefix: str, meta: dict) -> list[str]:
        """Resize tables of another length linearly (as ViTDet does at load time)."""
        notes = []
        for name in ('rel_pos_h', 'rel_pos_w'):
            key, length = prefix + name, getattr(self, name).shape[0]
            if key in state_dict and state_dict[key].shape[0] != length:
                table = state_dict[key]
                notes.append(f'{key} resized linearly from {table.shape[0]} to {length} rows')
                resized = F.interpolate(table.float().t()[None], size=length, mode='linear')
                state_dict[key] = resized[0].t().to(table.dtype)  # (length, C)
        return notes

    def tables(self, hw: Grid) -> tuple[torch.Tensor, torch.Tensor]:
        """R_h (h, h, C) and R_w (w, w, C) for grid ``hw``; cached per size in eval mode."""
        dev = device_key(self.rel_pos_h)
        r_h = self._cache.get(self, ('h', hw[0], dev), lambda: get_rel_pos(hw[0], self.rel_pos_h))
        r_w = self._cache.get(self, ('w', hw[1], dev), lambda: get_rel_pos(hw[1], self.rel_pos_w))
        return r_h, r_w

    def relative_terms(self, q: torch.Tensor, hw: Grid,
                       num_prefix: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``q_i . R_h[y_i - y]`` (B, heads, h, w, h) and ``q_i . R_w[x_i - x]`` (B, heads, h, w, w)
        for every query i of the grid and every key row y and column x."""
        b, heads, _, c = q.shape
        r_h, r_w = self.tables(hw)
        r_q = q[:, :, num_prefix:].reshape(b, heads, hw[0], hw[1], c)  # (B, heads, h, w, C)
        rel_h = torch.einsum('bnhwc,hkc->bnhwk', r_q, r_h.to(q.dtype))  # (B, heads, h, w, h)
        rel_w = torch.einsum('bnhwc,wkc->bnhwk', r_q, r_w.to(q.dtype))  # (B, heads, h, w, w)
        return rel_h, rel_w

    def bias(self, q: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        """The logit bias as one tensor: (B, heads, P + N, P + N)."""
        b, heads = q.shape[:2]
        n = hw[0] * hw[1]
        rel_h, rel_w = self.relative_terms(q, hw, num_prefix)
        bias = rel_h[..., :, None] + rel_w[..., None, :]  # (B, heads, h, w, h, w)
        return pad_prefix(bias.reshape(b, heads, n, n), num_prefix)  # (B, heads, P+N, P+N)

    def folds(self, q: torch.Tensor) -> bool:
        """Whether the bias of these queries is folded into q and k (``fold_into_qk``). Never
        while a graph is traced: it takes the dense bias either way, and the one-hot key
        channels would be baked in at the traced size."""
        if is_tracing():
            return False
        if self.fold_into_qk == 'auto':
            return q.device.type == 'cpu' and cpu_has_amx()
        return self.fold_into_qk

    def forward(self, q: torch.Tensor, k: torch.Tensor, hw: Grid,
                num_prefix: int) -> tuple[torch.Tensor, torch.Tensor,
                                          DecomposedBias | ExtraChannelsBias]:
        b, heads, _, _ = q.shape
        h, w = hw
        rel_h, rel_w = self.relative_terms(q, hw, num_prefix)
        if not self.folds(q):
            rel_h = rel_h.reshape(b, heads, h * w, h)  # (B, heads, N, h)
            rel_w = rel_w.reshape(b, heads, h * w, w)  # (B, heads, N, w)
            return q, k, DecomposedBias(rel_h, rel_w, num_prefix)
        extra_q = torch.cat([rel_h, rel_w], dim=-1).reshape(b, heads, h * w, h + w)
        extra_q = F.pad(extra_q, (0, 0, num_prefix, 0))  # (B, heads, P + N, h + w)
        extra_k = key_position_channels(hw, num_prefix, q.device)  # (P + N, h + w)
        return q, k, ExtraChannelsBias(extra_q, extra_k[None, None])

    def extra_repr(self) -> str:
        return f'ref_grid={self.ref_grid}, fold_into_qk={self.fold_into_qk}'

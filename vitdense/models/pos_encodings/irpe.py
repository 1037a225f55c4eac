"""iRPE: image relative position encoding with bucketed offsets, in bias or contextual mode."""
import math

import torch
from torch import nn

from vitdense.registry import POS_ENCODINGS

from .base import AttentionPosEncoding, Grid
from .gathered_bias import GatheredBias
from .grid import grid_offsets, tensor_cache
from .offset_bias import OffsetBias

METHODS = ('euclidean', 'quant', 'product', 'cross')
MODES = ('bias', 'contextual')


def piecewise_index(rel: torch.Tensor, alpha: float, beta: float, gamma: float) -> torch.Tensor:
    """The paper's Eq. 18, as in its ``piecewise_index``: long ids in [-int(beta), int(beta)].

    ``round(x)`` where ``|x| <= alpha``, else ``sign(x) * min(beta, round(alpha + ln(|x| / alpha)
    / ln(gamma / alpha) * (beta - alpha)))`` truncated to an integer (so the cap is int(beta)).
    """
    rel = rel.double()
    mag = rel.abs()
    far = alpha + torch.log(mag.clamp(min=alpha) / alpha) / math.log(gamma / alpha) * (beta - alpha)
    far = torch.sign(rel) * far.round().clamp(max=beta)
    return torch.where(mag <= alpha, rel.round(), far).long()


def num_buckets(method: str, beta: float) -> int:
    """Buckets, without the prefix bucket: (2 int(beta) + 1)^2 for 'product', else the side."""
    side = 2 * int(beta) + 1
    return side * side if method == 'product' else side


def bucket_of_offsets(method: str, diff: torch.Tensor, alpha: float, beta: float,
                      gamma: float) -> torch.Tensor:
    """Bucket id of each offset: diff (..., 2) as (dy, dx) -> (...) long, in
    [0, num_buckets(method)). ``method``: euclidean, quant, product, cross_rows, cross_cols."""
    shift = int(beta)
    if method == 'product':
        rows = piecewise_index(diff[..., 0], alpha, beta, gamma) + shift  # [0, 2 shift]
        cols = piecewise_index(diff[..., 1], alpha, beta, gamma) + shift
        return rows * (2 * shift + 1) + cols
    if method == 'euclidean':
        dist = diff.square().sum(-1).double().sqrt().round()
    elif method == 'quant':  # the released code's squared distance (REFERENCE.md)
        dist = diff.square().sum(-1)
    elif method in ('cross_rows', 'cross_cols'):
        dist = diff[..., int(method == 'cross_cols')]
    else:
        raise ValueError(f'unknown iRPE bucket method {method!r}')
    return piecewise_index(dist, alpha, beta, gamma) + shift  # [-shift, shift] -> [0, 2 shift]


@tensor_cache()
def irpe_offset_ids(method: str, hw: Grid, alpha: float, beta: float, gamma: float,
                    device: torch.device) -> torch.Tensor:
    """Bucket id of every 2D offset of an h x w grid: (2h - 1, 2w - 1), entry
    [dy + h - 1, dx + w - 1]; O(N), what the bias mode reads (``OffsetBias``)."""
    h, w = hw
    dy = torch.arange(1 - h, h, device=device)[:, None].expand(-1, 2 * w - 1)
    dx = torch.arange(1 - w, w, device=device)[None, :].expand(2 * h - 1, -1)
    return bucket_of_offsets(method, torch.stack([dy, dx], -1), alpha, beta, gamma)


@tensor_cache()
def irpe_bucket_ids(method: str, hw: Grid, num_prefix: int, alpha: float, beta: float,
                    gamma: float, device: torch.device) -> torch.Tensor:
    """Bucket id of every token pair: (P + N, P + N); rows and columns of prefix tokens get the
    extra id ``num_buckets(method)``. What the contextual mode reads (its bias depends on q);
    bounded in bytes by ``tensor_cache``. Stored as int16 (ids are < 2**15 for every method
    and beta in use; int32 otherwise), a quarter of int64's bytes, so that a 64 x 48 grid's
    index (19 MB) stays cached: as int64 (75 MB) it exceeded the cache's budget and was
    computed again at every call, seconds each. Callers widen it for ``gather``.
    """
    diff = grid_offsets(hw[0], hw[1], device)  # (N, N, 2) as (dy, dx)
    ids = bucket_of_offsets(method, diff, alpha, beta, gamma)
    extra = num_buckets(method, beta)  # the largest id
    if num_prefix:
        ids = nn.functional.pad(ids, (num_prefix, 0, num_prefix, 0), value=extra)
    return ids.to(torch.int16 if extra < 2**15 else torch.int32)


class IRPELookup(nn.Module):
    """One lookup table of iRPE (``iRPE`` in the paper's code): bias or contextual.

    Args:
        method: euclidean, quant, product, cross_rows or cross_cols.
        mode: 'bias' (``lookup_table_bias`` (H', buckets)) or 'contextual'
            (``lookup_table_weight`` (H', head_dim, buckets)).
        heads: H', 1 when shared across heads.
        head_dim: of the attention.
        alpha, beta, gamma: of the piecewise index function.
        prefix_bucket: one more learned bucket, shared by all pairs involving a prefix token;
            without it those pairs get zero.
    """

    def __init__(self, method: str, mode: str, heads: int, head_dim: int, alpha: float,
                 beta: float, gamma: float, prefix_bucket: bool):
        super().__init__()
        self.method, self.mode, self.prefix_bucket = method, mode, prefix_bucket
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.num_buckets = num_buckets(method, beta)
        entries = self.num_buckets + int(prefix_bucket)
        shape = (heads, entries) if mode == 'bias' else (heads, head_dim, entries)
        table = nn.Parameter(torch.zeros(shape))  # zero-initialised, as the paper's code
        if mode == 'bias':
            self.lookup_table_bias = table
        else:
            self.lookup_table_weight = table

    def bucket_ids(self, hw: Grid, num_prefix: int, device: torch.device) -> torch.Tensor:
        return irpe_bucket_ids(self.method, tuple(hw), num_prefix, self.alpha, self.beta,
                               self.gamma, device)

    def _with_prefix_entry(self, values: torch.Tensor, num_prefix: int) -> torch.Tensor:
        """Append the zero entry that prefix pairs read when there is no prefix bucket."""
        if self.prefix_bucket or not num_prefix:
            return values
        return torch.cat([values, values.new_zeros(*values.shape[:-1], 1)], dim=-1)

    def bias_offsets(self, hw: Grid, device: torch.device,
                     transpose: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Bias mode: the value of every 2D offset (H', 2h - 1, 2w - 1) and the prefix
        bucket's (H',) or None. With ``transpose`` pair (i, j) reads the bucket of (j, i)
        (the encoding on queries): the offsets negated."""
        ids = irpe_offset_ids(self.method, tuple(hw), self.alpha, self.beta, self.gamma, device)
        offsets = self.lookup_table_bias[:, ids]  # (H', 2h - 1, 2w - 1)
        if transpose:
            offsets = offsets.flip(1, 2)
        prefix = self.lookup_table_bias[:, self.num_buckets] if self.prefix_bucket else None
        return offsets, prefix

    def contextual_terms(self, x: torch.Tensor, hw: Grid,
                         num_prefix: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Contextual mode. x: (B, heads, N, head_dim), scaled q (or k) -> ``[(lookup, ids)]``:
        each token's product with every bucket's vector (B, heads, N, entries) and the bucket
        of every token pair (N, N), which ``GatheredBias`` reads per query chunk."""
        if self.mode == 'bias':
            raise RuntimeError('IRPELookup in bias mode has no contextual terms: it is '
                               'applied through bias_offsets (an OffsetBias)')
        ids = self.bucket_ids(hw, num_prefix, x.device)  # (N, N), int16
        lookup = torch.matmul(x, self.lookup_table_weight.to(x.dtype))  # (B, heads, N, entries)
        return [(self._with_prefix_entry(lookup, num_prefix), ids)]


class IRPECross(nn.Module):
    """The 'cross' method: separate row and column tables whose encodings are summed."""

    def __init__(self, mode: str, heads: int, head_dim: int, alpha: float, beta: float,
                 gamma: float, prefix_bucket: bool):
        super().__init__()
        args = (mode, heads, head_dim, alpha, beta, gamma, prefix_bucket)
        self.rp_rows = IRPELookup('cross_rows', *args)
        self.rp_cols = IRPELookup('cross_cols', *args)

    def bias_offsets(self, hw: Grid, device: torch.device,
                     transpose: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        (rows, p_rows), (cols, p_cols) = (self.rp_rows.bias_offsets(hw, device, transpose),
                                          self.rp_cols.bias_offsets(hw, device, transpose))
        return rows + cols, None if p_rows is None else p_rows + p_cols

    def contextual_terms(self, x: torch.Tensor, hw: Grid,
                         num_prefix: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return (self.rp_rows.contextual_terms(x, hw, num_prefix) +
                self.rp_cols.contextual_terms(x, hw, num_prefix))


@POS_ENCODINGS.register_module()
class IRPE(AttentionPosEncoding):
    """Image relative position encoding on queries and/or keys.

    Wu et al. 2021, "Rethinking and Improving Relative Position Encoding for Vision
    Transformer", arXiv 2107.14222 (``irpe.py`` of microsoft/Cream). Offsets are bucketed by the
    piecewise index function with alpha = ratio, beta = 2 ratio, gamma = 8 ratio, so the tables
    never need resizing: any grid maps to the same buckets. 'bias' mode adds a learned scalar
    per bucket; 'contextual' mode adds ``q_i . p_bucket(i, j)`` (on keys, 'k') and/or
    ``k_j . p_bucket(j, i)`` (on queries, 'q'), with q and k scaled by head_dim^-0.5 as in
    ``RPEAttention``. The encoding on values is not supported: this slot does not see v.

    Args:
        num_heads, head_dim: of the attention.
        ref_grid: given by the ViT; unused (the buckets do not depend on it).
        mode: 'bias' or 'contextual'.
        method: 'euclidean', 'quant', 'product' or 'cross'.
        rpe_on: 'k', 'q' or 'qk'.
        shared_head: one table shared by all heads (the released models' choice).
        ratio: sets alpha, beta, gamma (1.9 with 'product' gives 7 x 7 = 49 buckets).
        prefix_bucket: one extra learned bucket for pairs involving prefix tokens (the paper's
            ``skip`` bucket); without it those pairs get zero.
    """

    TEST_CONFIGS = (dict(mode='bias', method='product'),
                    dict(mode='contextual', method='product', prefix_bucket=True),
                    dict(mode='contextual', method='cross', rpe_on='qk', shared_head=False),
                    dict(mode='bias', method='euclidean', rpe_on='q', prefix_bucket=True),
                    dict(mode='contextual', method='quant', rpe_on='qk'))

    def __init__(self, num_heads: int, head_dim: int, ref_grid: Grid, mode: str = 'contextual',
                 method: str = 'product', rpe_on: str = 'k', shared_head: bool = True,
                 ratio: float = 1.9, prefix_bucket: bool = False):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'IRPE: mode must be one of {MODES}, got {mode!r}')
        if method not in METHODS:
            raise ValueError(f'IRPE: method must be one of {METHODS}, got {method!r}')
        if rpe_on not in ('q', 'k', 'qk'):
            raise ValueError(f"IRPE: rpe_on must be 'q', 'k' or 'qk', got {rpe_on!r} (iRPE on "
                             f'values needs v, which the attention PE slot does not see)')
        self.mode, self.method, self.rpe_on, self.ratio = mode, method, rpe_on, ratio
        self.ref_grid, self.scale = tuple(ref_grid), head_dim ** -0.5
        heads = 1 if shared_head else num_heads
        args = (mode, heads, head_dim, ratio, 2 * ratio, 8 * ratio, prefix_bucket)
        build = (lambda: IRPECross(*args)) if method == 'cross' else (
            lambda: IRPELookup(method, *args))
        self.rpe_q = build() if 'q' in rpe_on else None
        self.rpe_k = build() if 'k' in rpe_on else None

    def forward(self, q: torch.Tensor, k: torch.Tensor, hw: Grid,
                num_prefix: int) -> tuple[torch.Tensor, torch.Tensor, OffsetBias | GatheredBias]:
        if self.mode == 'bias':  # a value per offset bucket: added block by block, never N x N
            terms = [lookup.bias_offsets(hw, q.device, transpose)
                     for lookup, transpose in ((self.rpe_k, False), (self.rpe_q, True))
                     if lookup is not None]
            offsets = sum(t for t, _ in terms)
            prefix = [p for _, p in terms if p is not None]
            values = sum(prefix)[:, None].expand(-1, 3) if prefix and num_prefix else None
            return q, k, OffsetBias(offsets, tuple(hw), num_prefix, values)
        terms = []  # contextual: depends on q and k; gathered per query chunk, never N x N
        if self.rpe_k is not None:  # b_ij = (s q_i) . p_bucket(i, j)
            terms += [(lookup, ids, False) for lookup, ids in
                      self.rpe_k.contextual_terms(q * self.scale, hw, num_prefix)]
        if self.rpe_q is not None:  # b_ij = (s k_j) . p_bucket(j, i)
            terms += [(lookup, ids, True) for lookup, ids in
                      self.rpe_q.contextual_terms(k * self.scale, hw, num_prefix)]
        return q, k, GatheredBias(terms)

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, method={self.method!r}, rpe_on={self.rpe_on!r}, '
                f'ratio={self.ratio}')

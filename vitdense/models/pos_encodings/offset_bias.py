"""A logit bias that depends only on the 2D offset between tokens, applied by query chunks."""
from typing import Iterator

import torch

from .base import Grid
from .chunked_attention import ChunkedBias
from .grid import grid_coords


class OffsetBias(ChunkedBias):
    """``bias[(yi, xi), (yj, xj)] = offsets[:, yi - yj + h - 1, xi - xj + w - 1]``.

    Swin's relative position bias and iRPE's bias mode are this: a value per head (or one shared
    by all heads) for every 2D offset of an h x w grid, (2h - 1)(2w - 1) of them. For one query
    row yi, the bias over all keys is a run of h consecutive (w x w) blocks of the table
    expanded along x, so the attention adds whole blocks per query row instead of gathering
    N x N entries, and the gradient of each chunk's logits is added back block by block: no
    (heads, N, N) tensor or index is made or kept.

    Prefix tokens (cls, registers, the first ``num_prefix``) read three learned values, as BEiT:
    prefix query -> grid key, grid query -> prefix key, prefix -> prefix; zero without them.

    Args:
        offsets: (H', 2h - 1, 2w - 1), H' = heads or 1.
        hw: (h, w), the grid.
        num_prefix: P.
        prefix_values: (H', 3) in the order above, or None.
    """

    def __init__(self, offsets: torch.Tensor, hw: Grid, num_prefix: int,
                 prefix_values: torch.Tensor | None = None):
        h, w = hw
        if offsets.shape[1:] != (2 * h - 1, 2 * w - 1):
            raise ValueError(f'OffsetBias: a {h} x {w} grid needs offsets of shape (H\', '
                             f'{2 * h - 1}, {2 * w - 1}), got {tuple(offsets.shape)}')
        xs = torch.arange(w, device=offsets.device)
        dx = xs[:, None] - xs[None, :] + w - 1  # (w, w): [xi, xj]
        # blocks[:, xi, m, xj] for m = (h - 1) - yi + yj: query row yi reads the contiguous
        # (h, w) run m = h-1-yi .. 2h-2-yi for each of its columns xi
        blocks = offsets[:, :, dx].flip(1).permute(0, 2, 1, 3).contiguous()  # (H', w, 2h-1, w)
        self.hw, self.num_prefix = (h, w), num_prefix
        self.factors = (blocks,) if prefix_values is None else (blocks, prefix_values)

    def num_queries(self) -> int:
        return self.num_prefix + self.hw[0] * self.hw[1]

    def _row_spans(self, start: int, stop: int) -> Iterator[tuple[int, int, int, int]]:
        """Grid rows met by queries start:stop: (yi, xa, xb, first chunk row)."""
        p, w = self.num_prefix, self.hw[1]
        g0, g1 = max(start, p) - p, stop - p
        y = g0 // w
        while y * w < g1:
            xa, xb = max(g0 - y * w, 0), min(g1 - y * w, w)
            yield y, xa, xb, y * w + xa + p - start
            y += 1

    def rows(self, factors: tuple[torch.Tensor, ...], start: int, stop: int) -> torch.Tensor:
        """(1, H', r, P + N), gathered in one vectorised step (no loop over grid rows)."""
        blocks, p, (h, w) = factors[0], self.num_prefix, self.hw
        y, x = grid_coords(h, w, blocks.device).unbind(1)  # (N,) each; traceable (no % w)
        # query i, key j: blocks[:, x_i, (h - 1) - y_i + y_j, x_j]
        m = (h - 1) - y[:, None] + y[None, :]  # (N, N)
        grid = blocks[:, x[:, None], m, x[None, :]]  # (H', N, N)
        full = grid.new_zeros(grid.shape[0], p + h * w, p + h * w)
        full[:, p:, p:] = grid
        if p and len(factors) > 1:
            values = factors[1]  # (H', 3)
            full[:, :p, p:] = values[:, 0, None, None]
            full[:, p:, :p] = values[:, 1, None, None]
            full[:, :p, :p] = values[:, 2, None, None]
        return full[None, :, start:stop]

    def add_rows(self, factors: tuple[torch.Tensor, ...], logits: torch.Tensor, start: int,
                 stop: int) -> None:
        blocks, p, (h, w) = factors[0], self.num_prefix, self.hw
        if p and len(factors) > 1:
            values = factors[1][:, :, None, None]  # (H', 3, 1, 1)
            if start < p:  # prefix queries
                rows = slice(0, min(stop, p) - start)
                logits[:, :, rows, p:] += values[:, 0]
                logits[:, :, rows, :p] += values[:, 2]
            if stop > p:  # grid queries -> prefix keys
                logits[:, :, max(p - start, 0):, :p] += values[:, 1]
        grid = logits[..., p:].unflatten(-1, (h, w))  # (B, heads, r, h, w)
        for yi, xa, xb, r0 in self._row_spans(start, stop):
            grid[:, :, r0:r0 + xb - xa] += blocks[:, xa:xb, h - 1 - yi:2 * h - 1 - yi]

    def backward_rows(self, factors: tuple[torch.Tensor, ...], grad_rows: torch.Tensor,
                      start: int, stop: int, grads: list[torch.Tensor]) -> None:
        p, (h, w) = self.num_prefix, self.hw
        g = grad_rows.sum(0)  # (heads, r, P + N)
        if factors[0].shape[0] == 1:
            g = g.sum(0, keepdim=True)
        if p and len(factors) > 1:
            if start < p:
                rows = slice(0, min(stop, p) - start)
                grads[1][:, 0] += g[:, rows, p:].sum((1, 2))
                grads[1][:, 2] += g[:, rows, :p].sum((1, 2))
            if stop > p:
                grads[1][:, 1] += g[:, max(p - start, 0):, :p].sum((1, 2))
        grid = g[..., p:].unflatten(-1, (h, w))  # (H', r, h, w)
        for yi, xa, xb, r0 in self._row_spans(start, stop):
            grads[0][:, xa:xb, h - 1 - yi:2 * h - 1 - yi] += grid[:, r0:r0 + xb - xa]

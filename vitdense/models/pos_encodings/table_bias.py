"""A logit bias gathered from learned tables by a bucket index, applied by query chunks."""
import torch

from .chunked_attention import ChunkedBias


class TableBias(ChunkedBias):
    """``bias[h, i, j] = sum_t tables[t][h, ids[t][i, j]]``: learned values per offset bucket.

    Swin's relative position bias and iRPE's bias mode are this: a small table per head (or one
    shared by all heads) read through an (N, N) bucket index that depends only on the grid. The
    attention gathers the rows of one query chunk at a time, and the gradient of each chunk's
    logits is scattered back into the tables, so no (heads, N, N) tensor is made or kept.

    Args:
        tables: (H', E_t) each, H' = heads or 1 (shared by all heads).
        ids: (N, N) long each, entries in [0, E_t), same N for all.
    """

    def __init__(self, tables: list[torch.Tensor], ids: list[torch.Tensor]):
        if len(tables) != len(ids) or not tables:
            raise ValueError(f'TableBias needs one index per table, got {len(tables)} tables and '
                             f'{len(ids)} indices')
        self.factors, self.ids = tuple(tables), list(ids)

    def num_queries(self) -> int:
        return self.ids[0].shape[0]

    def rows(self, factors: tuple[torch.Tensor, ...], start: int, stop: int) -> torch.Tensor:
        """(1, H', r, N)."""
        out = None
        for table, ids in zip(factors, self.ids):
            index = ids[start:stop]  # (r, N)
            rows = table.index_select(1, index.flatten()).view(table.shape[0], *index.shape)
            out = rows if out is None else out + rows
        return out[None]

    def backward_rows(self, factors: tuple[torch.Tensor, ...], grad_rows: torch.Tensor,
                      start: int, stop: int, grads: list[torch.Tensor]) -> None:
        per_head = grad_rows.sum(0)  # (heads, r, N)
        shared = per_head.sum(0, keepdim=True)  # (1, r, N)
        for grad, ids in zip(grads, self.ids):
            g = shared if grad.shape[0] == 1 else per_head
            grad.index_add_(1, ids[start:stop].flatten(), g.flatten(1).to(grad.dtype))

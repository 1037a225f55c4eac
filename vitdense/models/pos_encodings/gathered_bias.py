"""A logit bias gathered from per-token lookups by a bucket index, applied by query chunks."""
import torch

from .chunked_attention import ChunkedBias


class GatheredBias(ChunkedBias):
    """``bias[b, h, i, j] = sum_t lookup_t[b, h, i, ids_t[i, j]]`` (or, for a term on queries,
    ``lookup_t[b, h, j, ids_t[j, i]]``).

    iRPE's contextual mode is this: each token's products with the table of every bucket,
    ``lookup = (s q) @ table`` (B, heads, N, buckets), read at the bucket of each token pair.
    Handed to SDPA densely, the gathered (B, heads, N, N) bias and the attention weights are kept
    for backward; here each chunk of query rows gathers its bias inside the chunk and the
    backward scatters the gradient of its logits back onto the lookups, so only the lookups
    (buckets << N wide) are kept. Autograd carries their gradient on to q and the table.

    Args:
        terms: ``(lookup, ids, on_queries)`` per table: lookup (B, heads, N, E); ids (N, N)
            integer bucket ids in [0, E) (any integer dtype: widened per chunk); on_queries
            reads ``ids[j, i]`` of key j's lookup, the encoding on queries.
    """

    def __init__(self, terms: list[tuple[torch.Tensor, torch.Tensor, bool]]):
        if not terms:
            raise ValueError('GatheredBias needs at least one (lookup, ids, on_queries) term')
        n = terms[0][0].shape[-2]
        for lookup, ids, _ in terms:
            if lookup.dim() != 4 or ids.shape != (n, n) or lookup.shape[-2] != n:
                raise ValueError(f'GatheredBias: each lookup must be (B, heads, N, E) and its '
                                 f'ids (N, N) for N = {n}; got {tuple(lookup.shape)} and '
                                 f'{tuple(ids.shape)}')
        self.factors = tuple(lookup.contiguous() for lookup, _, _ in terms)
        self.ids = tuple(ids for _, ids, _ in terms)
        self.on_queries = tuple(on_q for _, _, on_q in terms)

    def num_queries(self) -> int:
        return self.ids[0].shape[0]

    def _index(self, term: int, start: int, stop: int, entries: int) -> torch.Tensor:
        """For rows start:stop, the index into the lookup along its last dim (keys term:
        (r, N)), or into the lookup flattened over (N, E) (queries term: (r * N,))."""
        ids = self.ids[term]
        if not self.on_queries[term]:
            return ids[start:stop].long()
        n = ids.shape[0]
        keys = torch.arange(n, device=ids.device) * entries  # key j's run of E entries
        return (ids[:, start:stop].t().long() + keys).flatten()  # [i, j] -> j E + ids[j, i]

    def rows(self, factors: tuple[torch.Tensor, ...], start: int, stop: int) -> torch.Tensor:
        """(B, heads, r, N); over all rows, the ``dense()`` form a traced graph takes."""
        out = None
        for term, lookup in enumerate(factors):
            b, heads, n, entries = lookup.shape
            index = self._index(term, start, stop, entries)
            if self.on_queries[term]:
                part = lookup.reshape(b, heads, n * entries).gather(
                    2, index.expand(b, heads, -1)).view(b, heads, stop - start, n)
            else:
                part = lookup[:, :, start:stop].gather(3, index.expand(b, heads, -1, -1))
            out = part if out is None else out + part
        return out

    def backward_rows(self, factors: tuple[torch.Tensor, ...], grad_rows: torch.Tensor,
                      start: int, stop: int, grads: list[torch.Tensor]) -> None:
        for term, (lookup, grad) in enumerate(zip(factors, grads)):
            b, heads, n, entries = lookup.shape
            index = self._index(term, start, stop, entries)
            g = grad_rows.to(grad.dtype)
            if self.on_queries[term]:
                grad.view(b, heads, n * entries).scatter_add_(
                    2, index.expand(b, heads, -1), g.reshape(b, heads, -1))
            else:
                grad[:, :, start:stop].scatter_add_(3, index.expand(b, heads, -1, -1), g)

import math

import pytest
import torch

from vitdense.models.pos_encodings import IRPE, piecewise_index
from vitdense.models.pos_encodings.irpe import irpe_bucket_ids

ALPHA, BETA, GAMMA = 1.9, 3.8, 15.2  # ratio 1.9


def paper_index(x: float) -> int:
    """Eq. 18 of the paper, capped at int(beta) as the released code's cast does."""
    if abs(x) <= ALPHA:
        return round(x)
    y = ALPHA + math.log(abs(x) / ALPHA) / math.log(GAMMA / ALPHA) * (BETA - ALPHA)
    return int(math.copysign(min(BETA, round(y)), x))


def product_bucket(dy: int, dx: int) -> int:
    return (paper_index(dy) + 3) * 7 + paper_index(dx) + 3


def make(**kwargs) -> IRPE:
    torch.manual_seed(0)
    pe = IRPE(num_heads=2, head_dim=8, ref_grid=(4, 4), **kwargs)
    with torch.no_grad():
        for p in pe.parameters():
            p.normal_()
    return pe


def test_piecewise_index_is_the_papers_function():
    xs = torch.arange(-60, 61)
    assert piecewise_index(xs, ALPHA, BETA, GAMMA).tolist() == [paper_index(x) for x in xs.tolist()]
    floats = torch.linspace(-30, 30, 241)
    assert piecewise_index(floats, ALPHA, BETA, GAMMA).tolist() == [
        paper_index(x) for x in floats.tolist()]


def test_product_has_49_buckets_plus_the_prefix_bucket():
    assert make(method='product').rpe_k.lookup_table_weight.shape == (1, 8, 49)
    assert make(method='product', prefix_bucket=True).rpe_k.lookup_table_weight.shape == (1, 8, 50)
    assert make(method='cross', mode='bias').rpe_k.rp_rows.lookup_table_bias.shape == (1, 7)


@pytest.mark.parametrize('hw', [(3, 4), (9, 2)])
def test_bias_mode_looks_up_the_bucket_of_each_offset(hw):
    pe = make(mode='bias', method='product', shared_head=False)
    q = torch.randn(1, 2, hw[0] * hw[1], 8)
    _, _, bias = pe(q, q, hw, 0)
    bias = bias.dense()  # a TableBias: gathered per query chunk in attention
    table = pe.rpe_k.lookup_table_bias  # (heads, 49)
    for i in range(hw[0] * hw[1]):
        for j in range(hw[0] * hw[1]):
            (yi, xi), (yj, xj) = divmod(i, hw[1]), divmod(j, hw[1])
            torch.testing.assert_close(bias[0, :, i, j], table[:, product_bucket(yi - yj, xi - xj)])


def test_bias_mode_on_queries_reads_the_transposed_bucket():
    """rpe_on='q' in bias mode: b_ij = table[bucket(j, i)] (product buckets are not symmetric)."""
    pe = make(mode='bias', method='product', rpe_on='qk', shared_head=False)
    with torch.no_grad():
        pe.rpe_k.lookup_table_bias.normal_()
        pe.rpe_q.lookup_table_bias.normal_()
    q = torch.randn(1, 2, 12, 8)
    bias = pe(q, q, (3, 4), 0)[2].dense()
    t_k, t_q = pe.rpe_k.lookup_table_bias, pe.rpe_q.lookup_table_bias
    for i, j in [(0, 11), (11, 0), (5, 6), (3, 3)]:
        (yi, xi), (yj, xj) = divmod(i, 4), divmod(j, 4)
        expected = (t_k[:, product_bucket(yi - yj, xi - xj)] +
                    t_q[:, product_bucket(yj - yi, xj - xi)])
        torch.testing.assert_close(bias[0, :, i, j], expected)


def test_contextual_on_keys_and_queries():
    """k: b_ij = (s q_i) . p_bucket(i, j); q: b_ij = (s k_j) . p_bucket(j, i), s = d^-0.5."""
    hw, s = (3, 3), 8 ** -0.5
    for rpe_on in ('k', 'q'):
        pe = make(mode='contextual', method='product', rpe_on=rpe_on, shared_head=False)
        q, k = torch.randn(2, 2, 9, 8), torch.randn(2, 2, 9, 8)
        bias = pe(q, k, hw, 0)[2].dense()  # a GatheredBias: gathered per query chunk
        weight = (pe.rpe_k or pe.rpe_q).lookup_table_weight  # (heads, 8, 49)
        for i in range(9):
            for j in range(9):
                (yi, xi), (yj, xj) = divmod(i, 3), divmod(j, 3)
                if rpe_on == 'k':
                    p = weight[:, :, product_bucket(yi - yj, xi - xj)]  # (heads, 8)
                    expected = (q[:, :, i] * s * p).sum(-1)
                else:
                    p = weight[:, :, product_bucket(yj - yi, xj - xi)]
                    expected = (k[:, :, j] * s * p).sum(-1)
                torch.testing.assert_close(bias[:, :, i, j], expected)


def test_cross_sums_a_row_and_a_column_table():
    pe = make(mode='bias', method='cross')
    q = torch.randn(1, 2, 12, 8)
    bias = pe(q, q, (3, 4), 0)[2].dense()
    rows, cols = pe.rpe_k.rp_rows.lookup_table_bias[0], pe.rpe_k.rp_cols.lookup_table_bias[0]
    i, j = 11, 0  # (2, 3) -> (0, 0)
    expected = rows[paper_index(2) + 3] + cols[paper_index(3) + 3]
    torch.testing.assert_close(bias[0, 0, i, j], expected)


def test_prefix_pairs_use_the_extra_bucket_or_zero():
    q = torch.randn(1, 2, 2 + 6, 8)
    pe = make(mode='bias', prefix_bucket=True)
    with_bucket = pe(q, q, (2, 3), 2)[2].dense()
    extra = pe.rpe_k.lookup_table_bias[0, 49]
    assert torch.all(with_bucket[0, 0, :2] == extra)
    assert torch.all(with_bucket[0, 0, :, :2] == extra)
    without = make(mode='contextual')(q, q, (2, 3), 2)[2].dense()
    assert not without[..., :2, :].any() and not without[..., :, :2].any()


def test_bucket_ids_are_cached_per_size():
    before = irpe_bucket_ids.cache_info().hits
    for _ in range(2):
        make(mode='contextual')(torch.randn(1, 2, 20, 8), torch.randn(1, 2, 20, 8), (4, 5), 0)
    assert irpe_bucket_ids.cache_info().hits > before


def test_values_and_unknown_options_fail_clearly():
    with pytest.raises(ValueError, match='v, which'):
        IRPE(num_heads=2, head_dim=8, ref_grid=(2, 2), rpe_on='qkv')
    with pytest.raises(ValueError, match='method'):
        IRPE(num_heads=2, head_dim=8, ref_grid=(2, 2), method='polar')

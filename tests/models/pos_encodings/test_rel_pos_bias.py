import pytest
import torch
from torch.nn import functional as F

from vitdense.models.pos_encodings import RelPosBiasPE, resize_bias_table


def make(ref_grid: tuple[int, int], prefix_bias: bool = False) -> RelPosBiasPE:
    torch.manual_seed(0)
    return RelPosBiasPE(num_heads=2, head_dim=8, ref_grid=ref_grid, prefix_bias=prefix_bias)


def test_bias_at_reference_grid_is_swins_table_lookup():
    h, w = 3, 4
    pe = make((h, w))
    bias = pe.bias((h, w), 0, torch.device('cpu'))[0]  # (heads, 12, 12)
    table = pe.relative_position_bias_table
    for i in range(h * w):
        for j in range(h * w):
            (yi, xi), (yj, xj) = divmod(i, w), divmod(j, w)
            row = (yi - yj + h - 1) * (2 * w - 1) + (xi - xj + w - 1)
            torch.testing.assert_close(bias[:, i, j], table[row])


def test_resize_is_identity_at_native_size_and_bicubic_elsewhere():
    table = torch.randn(5 * 7, 2)
    assert resize_bias_table(table, (3, 4), (3, 4)) is table
    grid = table.t().reshape(1, 2, 5, 7)
    ref = F.interpolate(grid, size=(9, 5), mode='bicubic', align_corners=False)
    torch.testing.assert_close(resize_bias_table(table, (3, 4), (5, 3)),
                               ref.reshape(2, 45).t())


def test_other_grid_reads_the_resized_table():
    pe = make((3, 4))
    bias = pe.bias((5, 2), 0, torch.device('cpu'))[0]
    resized = resize_bias_table(pe.relative_position_bias_table, (3, 4), (5, 2))
    # tokens (0, 0) and (4, 1): offset (-4, -1) -> row 0 * 3 + 0
    torch.testing.assert_close(bias[:, 0, 4 * 2 + 1], resized[(0 - 4 + 4) * 3 + (0 - 1 + 1)])


def test_prefix_tokens_get_zero_bias_by_default():
    pe = make((3, 3))
    bias = pe.bias((3, 3), 2, torch.device('cpu'))[0]
    assert bias.shape == (2, 11, 11)
    assert not bias[:, :2].any() and not bias[:, :, :2].any()


def test_prefix_bias_follows_beit_layout():
    """Rows L-3, L-2, L-1: prefix -> patch, patch -> prefix, prefix -> prefix."""
    pe = make((3, 3), prefix_bias=True)
    table = pe.relative_position_bias_table
    assert table.shape == (5 * 5 + 3, 2)
    bias = pe.bias((3, 3), 2, torch.device('cpu'))[0]
    torch.testing.assert_close(bias[:, 1, 5], table[-3])
    torch.testing.assert_close(bias[:, 5, 0], table[-2])
    torch.testing.assert_close(bias[:, 0, 1], table[-1])
    torch.testing.assert_close(bias[:, 2:, 2:], pe.bias((3, 3), 0, torch.device('cpu'))[0])


def test_eval_mode_caches_only_the_resized_table():
    """The cache holds the (heads, 2h - 1, 2w - 1) table, O(N), never an N x N bias."""
    pe = make((3, 3)).eval()
    q = torch.randn(1, 2, 1 + 20, 8)
    pe(q, q, (4, 5), 1)
    pe(q, q, (4, 5), 1)
    cached = list(pe._cache._store.values())
    assert len(cached) == 1 and cached[0].shape == (2, 7, 9)
    assert cached[0] is pe.offset_table((4, 5))


def test_unknown_interpolation_fails_clearly():
    with pytest.raises(ValueError, match='interpolation'):
        RelPosBiasPE(num_heads=2, head_dim=8, ref_grid=(3, 3), interpolation='nearest')

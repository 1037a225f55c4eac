import pytest
import torch

from vitdense.models.pos_encodings import ResampleMode, WindowTiledAbsolutePE, resample_grid_table


def make(window: int = 3, ref_grid: tuple[int, int] = (6, 9)) -> WindowTiledAbsolutePE:
    torch.manual_seed(0)
    return WindowTiledAbsolutePE(dim=4, ref_grid=ref_grid, num_prefix_tokens=1,
                                 window_size=window)


def test_default_global_grid_has_one_entry_per_window():
    assert make(3, (6, 9)).global_grid == (2, 3)
    assert make(4, (6, 9)).global_grid == (2, 3)  # ceil


@pytest.mark.parametrize('hw', [(6, 9), (7, 11), (2, 2)])
def test_window_table_repeats_with_the_windows(hw):
    """Minus the resampled global table, token (y, x) carries window entry (y % w, x % w)."""
    pe = make(3)
    table = pe.grid_table(hw)[0].reshape(*hw, 4)
    glob = resample_grid_table(pe.global_table, pe.global_grid, hw, ResampleMode())
    window = pe.window_table[0].reshape(3, 3, 4)
    for y in range(hw[0]):
        for x in range(hw[1]):
            torch.testing.assert_close(table[y, x] - glob[0, y * hw[1] + x], window[y % 3, x % 3])


def test_global_part_at_the_global_grid_is_the_table_itself():
    pe = make(3)
    glob = resample_grid_table(pe.global_table, pe.global_grid, pe.global_grid, ResampleMode())
    assert glob is pe.global_table


def test_prefix_tokens_are_untouched():
    pe = make(3)
    x = torch.randn(2, 1 + 5 * 4, 4)
    out = pe(x, (5, 4), 1)
    torch.testing.assert_close(out[:, :1], x[:, :1])
    torch.testing.assert_close(out[:, 1:] - x[:, 1:], pe.grid_table((5, 4)).expand(2, -1, -1))


def test_window_size_is_required_to_be_positive():
    with pytest.raises(ValueError, match='window_size'):
        WindowTiledAbsolutePE(dim=4, ref_grid=(4, 4), num_prefix_tokens=0, window_size=0)

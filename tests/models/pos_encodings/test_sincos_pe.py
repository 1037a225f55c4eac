import numpy as np
import pytest
import torch

from vitdense.models.pos_encodings import (
    ResampleMode,
    SinCos2dPE,
    resample_grid_table,
    sincos_2d_table,
)


def mae_table(dim: int, h: int, w: int, cls_token: bool) -> np.ndarray:
    """MAE's ``util/pos_embed.py`` (numpy), with its square grid generalised to h x w."""
    grid_h, grid_w = np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32)
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0).reshape(2, 1, h, w)  # w goes first

    def one_d(d: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum('m,d->md', pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    emb = np.concatenate([one_d(dim // 2, grid[0]), one_d(dim // 2, grid[1])], axis=1)
    return np.concatenate([np.zeros([1, dim]), emb], axis=0) if cls_token else emb


@pytest.mark.parametrize('hw', [(5, 7), (6, 6)])
def test_table_is_mae_closed_form(hw):
    pe = SinCos2dPE(dim=16, ref_grid=hw, num_prefix_tokens=1, prefix_entries=1)
    ref = torch.from_numpy(mae_table(16, *hw, cls_token=True)).float()[None]
    torch.testing.assert_close(pe.table(hw), ref, rtol=0, atol=1e-6)


def test_layout_is_sin_x_cos_x_sin_y_cos_y():
    table = sincos_2d_table((3, 5), 8)[0]  # (15, 8), quarters of width 2
    token = 1 * 5 + 3  # y = 1, x = 3
    omega = torch.tensor([1.0, 1e-2])  # 1 / 10000 ** (k / 2)
    expected = torch.cat([(3 * omega).sin(), (3 * omega).cos(), omega.sin(), omega.cos()])
    torch.testing.assert_close(table[token], expected)


def test_forward_adds_to_patches_only():
    pe = SinCos2dPE(dim=8, ref_grid=(4, 4), num_prefix_tokens=2)
    x = torch.randn(2, 2 + 3 * 5, 8)
    out = pe(x, (3, 5), 2)
    torch.testing.assert_close(out[:, :2], x[:, :2])
    torch.testing.assert_close(out[:, 2:] - x[:, 2:], sincos_2d_table((3, 5), 8).expand(2, -1, -1))


def test_recomputes_for_any_grid_and_caches_it():
    pe = SinCos2dPE(dim=8, ref_grid=(4, 4), num_prefix_tokens=0)
    first = pe.grid_table((7, 3), torch.device('cpu'))
    assert pe.grid_table((7, 3), torch.device('cpu')) is first
    torch.testing.assert_close(first, torch.from_numpy(mae_table(8, 7, 3, False)).float()[None])


def test_interpolation_mode_is_identity_at_reference_and_resamples_elsewhere():
    pe = SinCos2dPE(dim=8, ref_grid=(4, 6), num_prefix_tokens=0, interpolation='bicubic')
    cpu = torch.device('cpu')
    torch.testing.assert_close(pe.grid_table((4, 6), cpu), sincos_2d_table((4, 6), 8))
    resampled = resample_grid_table(sincos_2d_table((4, 6), 8), (4, 6), (7, 9),
                                    ResampleMode('bicubic'))
    torch.testing.assert_close(pe.grid_table((7, 9), cpu), resampled)
    assert not torch.allclose(resampled, sincos_2d_table((7, 9), 8), atol=1e-3)


def test_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match='divisible by 4'):
        SinCos2dPE(dim=6, ref_grid=(2, 2), num_prefix_tokens=0)
    with pytest.raises(ValueError, match='prefix_entries'):
        SinCos2dPE(dim=8, ref_grid=(2, 2), num_prefix_tokens=0, prefix_entries=1)


def test_sincos_embed_is_the_table_for_grid_coordinates_and_any_points():
    from vitdense.models.pos_encodings import sincos_embed
    coords = torch.tensor([[0.0, 0.0], [3.0, 1.0], [0.25, 0.5]])  # (x, y)
    out = sincos_embed(coords, 8)
    assert out.shape == (3, 16)
    w = 1.0 / 10000 ** (torch.arange(4) / 4)
    torch.testing.assert_close(out[1, :8], torch.cat([(3 * w).sin(), (3 * w).cos()]))
    torch.testing.assert_close(out[2, 8:], torch.cat([(0.5 * w).sin(), (0.5 * w).cos()]))
    table = sincos_2d_table((2, 4), 16)[0]  # row 1, column 3 -> (x, y) = (3, 1)
    torch.testing.assert_close(table[1 * 4 + 3], out[1])

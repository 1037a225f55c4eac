import torch

from vitdense.models.pos_encodings import LearnedAbsolutePE, ResampleMode, resample_grid_table


def test_resample_is_identity_at_reference_grid():
    table = torch.randn(1, 4 * 6, 8)
    assert resample_grid_table(table, (4, 6), (4, 6)) is table


def test_resample_matches_direct_interpolation():
    table = torch.randn(1, 4 * 6, 8)
    out = resample_grid_table(table, (4, 6), (7, 5), ResampleMode('bicubic', True))
    ref = torch.nn.functional.interpolate(table.reshape(1, 4, 6, 8).permute(0, 3, 1, 2), (7, 5),
                                          mode='bicubic', antialias=True, align_corners=False)
    torch.testing.assert_close(out, ref.permute(0, 2, 3, 1).reshape(1, 35, 8))


def test_prefix_entries_apply_to_cls_only():
    pe = LearnedAbsolutePE(dim=4, ref_grid=(2, 3), num_prefix_tokens=3, prefix_entries=1)
    x = torch.zeros(2, 3 + 6, 4)
    out = pe(x, (2, 3), 3)
    torch.testing.assert_close(out[:, 0], pe.table[0, 0].expand(2, 4))
    assert not out[:, 1:3].any()
    torch.testing.assert_close(out[:, 3:], pe.table[:, 1:].expand(2, 6, 4))


def test_eval_mode_caches_resampled_table():
    pe = LearnedAbsolutePE(dim=4, ref_grid=(2, 3), num_prefix_tokens=0).eval()
    first = pe.grid_table((5, 7))
    assert pe.grid_table((5, 7)) is first
    with torch.no_grad():
        pe.table.add_(1.0)
    assert pe.grid_table((5, 7)) is not first

import pytest
import torch

from vitdense.models.pos_encodings import RoPE2d

HEADS, D = 2, 16


def make(**kwargs) -> RoPE2d:
    torch.manual_seed(0)
    return RoPE2d(num_heads=HEADS, head_dim=D, ref_grid=(4, 5), **kwargs)


def ropevit_rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """rope-vit's ``apply_rotary_emb``: pairs as complex numbers times exp(i angles)."""
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * torch.polar(torch.ones_like(angles), angles)).flatten(-2)


def ropevit_positions(w: int, h: int) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.arange(w * h, dtype=torch.float32)  # rope-vit's init_t_xy
    return t % w, torch.div(t, w, rounding_mode='floor')


def test_axial_matches_rope_vit():
    pe = make(mode='axial')
    h, w = 3, 5
    t_x, t_y = ropevit_positions(w, h)
    freqs = 1.0 / (100.0 ** (torch.arange(0, D, 4)[:D // 4].float() / D))
    angles = torch.cat([torch.outer(t_x, freqs), torch.outer(t_y, freqs)], dim=-1)  # (N, D/2)
    q, k = torch.randn(2, HEADS, 1 + h * w, D), torch.randn(2, HEADS, 1 + h * w, D)
    q2, k2, bias = pe(q, k, (h, w), 1)
    assert bias is None
    torch.testing.assert_close(q2[:, :, :1], q[:, :, :1])  # the cls token is not rotated
    torch.testing.assert_close(q2[:, :, 1:], ropevit_rotate(q[:, :, 1:], angles))
    torch.testing.assert_close(k2[:, :, 1:], ropevit_rotate(k[:, :, 1:], angles))


def test_mixed_matches_rope_vit_and_learns_per_head_frequencies():
    pe = make(mode='mixed')
    assert pe.freqs.shape == (2, HEADS, D // 2) and pe.freqs.requires_grad
    mag = 1.0 / (10.0 ** (torch.arange(0, D, 4)[:D // 4].float() / D))
    torch.testing.assert_close(pe.freqs.norm(dim=0), mag.repeat(2).expand(HEADS, -1))
    h, w = 4, 3
    t_x, t_y = ropevit_positions(w, h)
    angles = t_x[None, :, None] * pe.freqs[0][:, None] + t_y[None, :, None] * pe.freqs[1][:, None]
    q = torch.randn(2, HEADS, h * w, D)
    q2, _, _ = pe(q, q, (h, w), 0)
    torch.testing.assert_close(q2, ropevit_rotate(q, angles.detach()))


def test_scaled_coordinates_interpolate_onto_the_reference_grid():
    patch, scaled = make(coords='patch'), make(coords='scaled')
    cpu = torch.device('cpu')
    torch.testing.assert_close(scaled.rotations((4, 5), cpu), patch.rotations((4, 5), cpu))
    big = scaled.rotations((8, 10), cpu).reshape(8, 10, D // 2)
    small = patch.rotations((4, 5), cpu).reshape(4, 5, D // 2)
    torch.testing.assert_close(big[::2, ::2], small)  # token (2y, 2x) sits at (y, x)


def test_bf16_inputs_stay_bf16():
    q = torch.randn(1, HEADS, 6, D, dtype=torch.bfloat16)
    q2, k2, _ = make(mode='mixed')(q, q, (2, 3), 0)
    assert q2.dtype == k2.dtype == torch.bfloat16


def test_bad_options_fail_clearly():
    with pytest.raises(ValueError, match='divisible by 4'):
        RoPE2d(num_heads=2, head_dim=6, ref_grid=(2, 2))
    with pytest.raises(ValueError, match='coords'):
        RoPE2d(num_heads=2, head_dim=8, ref_grid=(2, 2), coords='normalized')

import pytest
import torch
from torch.nn import functional as F

from vitdense.models.layers import Attention
from vitdense.models.pos_encodings import DecomposedRelPosPE, get_rel_pos


def make(ref_grid: tuple[int, int], fold: bool = False) -> DecomposedRelPosPE:
    torch.manual_seed(0)
    return DecomposedRelPosPE(num_heads=2, head_dim=8, ref_grid=ref_grid, zero_init=False,
                              fold_into_qk=fold)


def test_bias_at_reference_grid_uses_the_unscaled_query():
    h, w = 3, 4
    pe = make((h, w))
    q = torch.randn(2, 2, h * w, 8)
    bias = pe.bias(q, (h, w), 0)
    for i in range(h * w):
        for j in range(h * w):
            (yi, xi), (yj, xj) = divmod(i, w), divmod(j, w)
            expected = (q[:, :, i] * pe.rel_pos_h[yi - yj + h - 1]).sum(-1) + \
                (q[:, :, i] * pe.rel_pos_w[xi - xj + w - 1]).sum(-1)
            torch.testing.assert_close(bias[:, :, i, j], expected)


def detectron2_get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """detectron2's ``get_rel_pos``, verbatim in substance."""
    max_rel_dist = int(2 * max(q_size, k_size) - 1)
    if rel_pos.shape[0] != max_rel_dist:
        resized = F.interpolate(rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1),
                                size=max_rel_dist, mode='linear')
        resized = resized.reshape(-1, max_rel_dist).permute(1, 0)
    else:
        resized = rel_pos
    q_coords = torch.arange(q_size)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size)[None, :] * max(q_size / k_size, 1.0)
    relative = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return resized[relative.long()]


@pytest.mark.parametrize('size', [4, 7, 2])
def test_tables_are_detectron2s_interpolated_tables(size):
    table = torch.randn(2 * 4 - 1, 8)
    torch.testing.assert_close(get_rel_pos(size, table), detectron2_get_rel_pos(size, size, table))


def test_native_size_does_not_interpolate():
    table = torch.randn(7, 8)
    assert torch.equal(get_rel_pos(4, table), table[torch.arange(4)[:, None] -
                                                    torch.arange(4)[None] + 3])


@pytest.mark.parametrize('hw,prefix', [((5, 6), 1), ((4, 4), 0)])
def test_folding_into_qk_gives_the_same_attention(hw, prefix):
    a, b = make((4, 4)), make((4, 4), fold=True)
    b.load_state_dict(a.state_dict())
    torch.manual_seed(1)
    attn_a, attn_b = Attention(16, 2, pos_enc=a), Attention(16, 2, pos_enc=b)
    attn_b.load_state_dict(attn_a.state_dict())
    x = torch.randn(3, prefix + hw[0] * hw[1], 16, requires_grad=True)
    out_a, out_b = attn_a(x, hw, prefix), attn_b(x, hw, prefix)
    torch.testing.assert_close(out_a, out_b, rtol=1e-5, atol=1e-5)
    ga = torch.autograd.grad(out_a.square().sum(), [x, a.rel_pos_h])
    gb = torch.autograd.grad(out_b.square().sum(), [x, b.rel_pos_h])
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, rtol=1e-4, atol=1e-5)


def test_zero_init_and_prefix_tokens_get_no_bias():
    pe = DecomposedRelPosPE(num_heads=2, head_dim=8, ref_grid=(3, 3))
    assert not pe.rel_pos_h.any() and pe.rel_pos_h.shape == (5, 8)
    pe = make((3, 3))
    bias = pe.bias(torch.randn(1, 2, 2 + 9, 8), (3, 3), 2)
    assert not bias[..., :2, :].any() and not bias[..., :, :2].any()


def test_eval_mode_caches_the_interpolated_tables():
    pe = make((3, 3)).eval()
    first = pe.tables((5, 7))
    second = pe.tables((5, 7))
    assert first[0] is second[0] and first[1] is second[1]

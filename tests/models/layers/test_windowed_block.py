import torch

from vitdense.models.layers import Block, pad_to_multiple, window_partition, window_unpartition
from vitdense.models.pos_encodings import DecomposedRelPosPE


def test_pad_to_multiple_fills_with_the_given_vector():
    x, value = torch.randn(2, 5, 7, 3), torch.randn(3)
    padded, hw = pad_to_multiple(x, 4, value)
    assert hw == (8, 8) and padded.shape == (2, 8, 8, 3)
    assert torch.equal(padded[:, :5, :7], x)
    assert torch.equal(padded[:, 5:], value.expand(2, 3, 8, 3))
    assert torch.equal(padded[:, :, 7:], value.expand(2, 8, 1, 3))
    zeros, _ = pad_to_multiple(x, 4)
    assert torch.equal(zeros[:, :5, :7], x) and not zeros[:, 5:].any() and not zeros[:, :, 7:].any()


def padded_then_projected(block: Block, x: torch.Tensor, hw, prefix: int) -> torch.Tensor:
    """The windowed attention branch as ViTDet writes it: zero-pad the normed grid, then attend."""
    b, _, c = x.shape
    grid = block.norm1(x)[:, prefix:].reshape(b, hw[0], hw[1], c)  # (B, H, W, C)
    grid, padded_hw = pad_to_multiple(grid, block.window_size)
    windows = block.attn(window_partition(grid, block.window_size), (3, 3), 0)
    grid = window_unpartition(windows, block.window_size, padded_hw, hw)  # (B, H, W, C)
    branch = torch.cat([torch.zeros(b, prefix, c, dtype=x.dtype), grid.flatten(1, 2)], dim=1)
    x = x + branch
    return x + block.mlp(block.norm2(x))


def test_windowed_block_projects_only_real_tokens_with_the_same_result():
    torch.manual_seed(0)
    pe = DecomposedRelPosPE(num_heads=2, head_dim=8, ref_grid=(3, 3), zero_init=False)
    block = Block(16, 2, window_size=3, attn_pos_enc=pe).double()
    torch.nn.init.normal_(block.attn.qkv.bias)  # padded tokens differ from zeros after qkv
    x = torch.randn(2, 1 + 5 * 7, 16, dtype=torch.float64, requires_grad=True)
    out, ref = block(x, (5, 7), 1), padded_then_projected(block, x, (5, 7), 1)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    params = [x, block.attn.qkv.bias, block.attn.proj.weight, pe.rel_pos_w]
    got = torch.autograd.grad(out.square().sum(), params)
    expected = torch.autograd.grad(ref.square().sum(), params)
    for u, e in zip(got, expected):
        torch.testing.assert_close(u, e, rtol=1e-10, atol=1e-10)

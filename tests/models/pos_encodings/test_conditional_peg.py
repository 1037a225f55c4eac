import pytest
import torch
from torch.nn import functional as F

from vitdense.models.pos_encodings import ConditionalPEG


def make() -> ConditionalPEG:
    torch.manual_seed(0)
    return ConditionalPEG(dim=4)


def test_is_tokens_plus_depthwise_conv_with_prefix_passed_through():
    pe = make()
    x = torch.randn(2, 1 + 5 * 7, 4)
    out = pe(x, (5, 7), 1)
    torch.testing.assert_close(out[:, :1], x[:, :1])
    grid = x[:, 1:].transpose(1, 2).reshape(2, 4, 5, 7)
    ref = grid + F.conv2d(grid, pe.proj.weight, pe.proj.bias, padding=1, groups=4)
    torch.testing.assert_close(out[:, 1:], ref.flatten(2).transpose(1, 2))


def test_translation_equivariant_away_from_the_borders():
    """Two crops of one map, shifted by (dy, dx): outputs agree where no padding is seen."""
    pe = make()
    big = torch.randn(1, 4, 12, 14)
    h, w, dy, dx = 8, 9, 2, 3

    def run(y0: int, x0: int) -> torch.Tensor:
        crop = big[:, :, y0:y0 + h, x0:x0 + w]
        out = pe(crop.flatten(2).transpose(1, 2), (h, w), 0)
        return out.transpose(1, 2).reshape(1, 4, h, w)

    a, b = run(0, 0), run(dy, dx)
    torch.testing.assert_close(b[:, :, 1:h - 1 - dy, 1:w - 1 - dx],
                               a[:, :, 1 + dy:h - 1, 1 + dx:w - 1])
    # at the border the zero padding tells where the token is: not equivariant there
    assert not torch.allclose(b[:, :, 0, 0], a[:, :, dy, dx])


def test_even_kernel_fails_clearly():
    with pytest.raises(ValueError, match='odd'):
        ConditionalPEG(dim=4, kernel_size=4)

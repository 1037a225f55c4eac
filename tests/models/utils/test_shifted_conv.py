"""conv2d_by_shifts: the convolution as shifted 1x1 products, for inductor at symbolic sizes.
Tolerance: float64, equal to 1e-12 (summation order only)."""
import pytest
import torch
from torch import nn

from vitdense.models.utils.shifted_conv import conv2d_by_shifts, token_map_conv


@pytest.mark.parametrize('cin,cout,k,pad,groups,bias', [
    (6, 4, 3, 1, 1, True), (6, 6, 3, 1, 6, True), (6, 5, 1, 0, 1, False),
    (4, 4, 5, 2, 4, False), (3, 2, 3, 0, 1, True)])
def test_equals_the_convolution(cin, cout, k, pad, groups, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(cin, cout, k, padding=pad, groups=groups, bias=bias).double()
    x = torch.randn(2, cin, 7, 9, dtype=torch.float64, requires_grad=True)
    got, expected = conv2d_by_shifts(x, conv), conv(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    grads = torch.autograd.grad(got.square().sum(), [x, conv.weight])
    expected_grads = torch.autograd.grad(expected.square().sum(), [x, conv.weight])
    for g, e in zip(grads, expected_grads):
        torch.testing.assert_close(g, e, rtol=0, atol=1e-10)


def test_refuses_what_it_does_not_compute():
    for conv in (nn.Conv2d(4, 4, 3, stride=2), nn.Conv2d(4, 4, 3, dilation=2),
                 nn.Conv2d(4, 8, 3, groups=2), nn.Conv2d(4, 4, 3, padding='same')):
        with pytest.raises(ValueError, match='stride 1'):
            conv2d_by_shifts(torch.randn(1, 4, 8, 8), conv)


def test_eager_mode_runs_the_convolution_itself(monkeypatch):
    conv = nn.Conv2d(4, 4, 3, padding=1)
    calls = []
    monkeypatch.setattr(conv, 'forward', lambda x: calls.append(x) or x)
    x = torch.randn(1, 4, 5, 5)
    assert token_map_conv(x, conv) is x and len(calls) == 1

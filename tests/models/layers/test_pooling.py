"""The traceable adaptive average pooling equals torch's, on sizes that do not divide."""
import pytest
import torch
import torch.nn.functional as F

import vitdense.models.layers.pooling as pooling
from vitdense.models.layers import AdaptiveAvgPool2d, adaptive_avg_pool2d_by_sums


@pytest.mark.parametrize('size', [(1, 1), (2, 3), (6, 6), (7, 5)])
@pytest.mark.parametrize('hw', [(7, 11), (6, 6), (13, 4), (1, 9)])
def test_sums_equal_torch(size, hw):
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(adaptive_avg_pool2d_by_sums(x, size), F.adaptive_avg_pool2d(x, size),
                               atol=1e-6, rtol=1e-6)


def test_module_pools_by_sums_only_while_tracing(monkeypatch):
    x = torch.randn(1, 4, 9, 10)
    calls = []
    monkeypatch.setattr(pooling, 'adaptive_avg_pool2d_by_sums',
                        lambda t, s: calls.append(s) or F.adaptive_avg_pool2d(t, s))
    AdaptiveAvgPool2d(3)(x)
    assert calls == []
    monkeypatch.setattr(pooling, 'is_tracing', lambda: True)
    out = AdaptiveAvgPool2d(3)(x)
    assert calls == [(3, 3)] and out.shape == (1, 4, 3, 3)

"""Adaptive average pooling that a graph with a symbolic input size can record."""
import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.utils.tracing import is_tracing


def bin_edges(size: int, bins: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Start (inclusive) and end (exclusive) of each of ``bins`` adaptive-pooling bins over
    ``size`` positions, as ``F.adaptive_avg_pool2d`` places them: floor(i * size / bins) and
    ceil((i + 1) * size / bins); each (bins,) long."""
    i = torch.arange(bins, device=device)
    return (i * size) // bins, ((i + 1) * size + bins - 1) // bins


def adaptive_avg_pool2d_by_sums(x: torch.Tensor, output_size: tuple[int, int]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d`` from an integral image: x (B, C, H, W) -> (B, C, h, w).

    Every bin's sum is four reads of the cumulative sums, at indices computed from H and W in
    the graph, so that ONNX export with a symbolic H and W stays right at any size (torch's own
    decomposition fixes the bins at the export size). Summed in float64 for the precision of
    large maps; returned in x's dtype.
    """
    out_h, out_w = output_size
    height, width = x.shape[-2:]
    integral = F.pad(x.double().cumsum(-2).cumsum(-1), (1, 0, 1, 0))  # (B, C, H + 1, W + 1)
    y0, y1 = bin_edges(height, out_h, x.device)  # (h,) each
    x0, x1 = bin_edges(width, out_w, x.device)  # (w,) each

    def corner(ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        return integral.index_select(-2, ys).index_select(-1, xs)  # (B, C, h, w)

    sums = corner(y1, x1) - corner(y0, x1) - corner(y1, x0) + corner(y0, x0)
    area = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).to(sums.dtype)  # (h, w)
    return (sums / area).to(x.dtype)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """``nn.AdaptiveAvgPool2d`` (same arguments, no parameters) that pools by
    :func:`adaptive_avg_pool2d_by_sums` while a graph is traced, and as torch does otherwise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not is_tracing():
            return super().forward(x)
        size = self.output_size
        size = (size, size) if isinstance(size, int) else size
        if None in size:
            raise ValueError('AdaptiveAvgPool2d: an output size of None (keep the input size) '
                             'is not supported while tracing; give both sides')
        return adaptive_avg_pool2d_by_sums(x, tuple(size))

"""Resizing a map by a pyramid factor: what the necks that build levels from ViT maps share."""
from torch import nn

from vitdense.models.layers import build_norm2d

SCALES = (4.0, 2.0, 1.0, 0.5)


def resample_stage(channels: int, scale: float, norm: str | None = 'LN', mode: str = 'deconv',
                   owner: str = 'neck') -> tuple[nn.Module, int]:
    """Layers that resize a (B, C, h, w) map by ``scale``, and their output width.

    ``mode='deconv'`` upsamples as ViTDet's simple pyramid (Li et al. 2022, arXiv 2203.16527):
    2x2 stride-2 transposed convs, each halving the width, with ``norm`` and GELU between two of
    them; ``'bilinear'`` interpolates and keeps the width (mmseg's MultiLevelNeck). Both
    subsample 0.5 by a 2x2 max-pool that keeps a last odd row and column, so the map covers the
    whole input: (h, w) -> (ceil(h / 2), ceil(w / 2)). ``owner`` names the neck in errors.
    """
    if scale not in SCALES:
        raise ValueError(f'{owner} scale_factors must be among {SCALES}; got {scale}')
    if mode not in ('deconv', 'bilinear'):
        raise ValueError(f"{owner} upsample mode must be 'deconv' or 'bilinear'; got {mode!r}")
    if scale == 1.0:
        return nn.Identity(), channels
    if scale == 0.5:
        return nn.MaxPool2d(2, stride=2, ceil_mode=True), channels
    if mode == 'bilinear':
        return nn.Upsample(scale_factor=scale, mode='bilinear', align_corners=False), channels
    half = channels // 2
    if scale == 2.0:
        return nn.ConvTranspose2d(channels, half, 2, stride=2), half
    quarter = channels // 4
    return nn.Sequential(nn.ConvTranspose2d(channels, half, 2, stride=2), build_norm2d(norm, half),
                         nn.GELU(), nn.ConvTranspose2d(half, quarter, 2, stride=2)), quarter

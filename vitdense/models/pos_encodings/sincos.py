"""Fixed 2D sine-cosine position embedding in MAE's layout, for any grid."""

import torch

from vitdense.registry import POS_ENCODINGS

from .base import Grid, TokenPosEncoding
from .grid import tensor_cache
from .resample import ResampleMode, resample_grid_table


def sincos_embed(coords: torch.Tensor, dim_per_coord: int,
                 temperature: float = 10000.0) -> torch.Tensor:
    """Sine-cosine embedding of each coordinate: (..., n) -> (..., n * dim_per_coord).

    Coordinate ``c`` becomes ``[sin(c * w_k) | cos(c * w_k)]`` with ``w_k = 1 / temperature **
    (k / (dim_per_coord / 2))``, k < dim_per_coord / 2 (Vaswani et al. 2017); the coordinates'
    embeddings are concatenated in order. Computed in the dtype of ``coords``. The same function
    embeds patch grids (:func:`sincos_2d_table`), DETR's feature-map positions and the reference
    boxes of DETR-style decoders.
    """
    if dim_per_coord % 2:
        raise ValueError(f'sincos_embed: dim_per_coord must be even, got {dim_per_coord}')
    half = dim_per_coord // 2
    omega = 1.0 / temperature ** (torch.arange(half, dtype=coords.dtype, device=coords.device)
                                  / half)
    angles = coords[..., None] * omega  # (..., n, half)
    emb = torch.cat([angles.sin(), angles.cos()], dim=-1)  # (..., n, dim_per_coord)
    return emb.flatten(-2)  # (..., n * dim_per_coord)


@tensor_cache()
def sincos_2d_table(hw: Grid, dim: int, temperature: float = 10000.0,
                    device: torch.device = torch.device('cpu')) -> torch.Tensor:
    """MAE's 2D sin-cos table ``[sin x | cos x | sin y | cos y]``: (1, H * W, dim), float32.

    Each quarter is dim / 4 wide, with frequencies ``1 / temperature ** (k / (dim / 4))``; x is the
    column index, y the row index, tokens row-major. Computed in float64, like MAE's numpy code.
    """
    if dim % 4:
        raise ValueError(f'2D sin-cos needs dim divisible by 4, got dim={dim}')
    h, w = hw
    # meshgrid rather than repeat_interleave: ONNX export fixes the repeats at the export size
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing='ij')  # (H, W) each
    coords = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)  # (H * W, 2) as (x, y)
    table = sincos_embed(coords, dim // 2, temperature)  # (H * W, dim)
    return table[None].to(device=device, dtype=torch.float32)


@tensor_cache()
def _resampled_sincos(ref_grid: Grid, hw: Grid, dim: int, temperature: float, mode: ResampleMode,
                      device: torch.device) -> torch.Tensor:
    return resample_grid_table(sincos_2d_table(ref_grid, dim, temperature, device), ref_grid, hw,
                               mode)


@POS_ENCODINGS.register_module()
class SinCos2dPE(TokenPosEncoding):
    """Fixed 2D sine-cosine embedding added to the patch tokens.

    He et al. 2021, "Masked Autoencoders Are Scalable Vision Learners", arXiv 2111.06377 (the
    layout ``[sin x | cos x | sin y | cos y]`` of its ``util/pos_embed.py``); Vaswani et al. 2017,
    arXiv 1706.03762 (the 1D form). No parameters; prefix tokens get nothing added (MAE's all-zero
    cls row).

    Args:
        dim: token width, a multiple of 4.
        ref_grid: (H, W) patch grid of the reference size.
        num_prefix_tokens: prefix tokens of the ViT.
        prefix_entries: zero rows in front of :meth:`table` (1 reproduces MAE's table with its
            cls row); the forward pass is the same either way.
        temperature: the frequency base (10000 in MAE).
        interpolation: None (default) recomputes the closed form for the runtime grid;
            'bicubic' or 'bilinear' instead resamples the reference-grid table, as MAE's
            fine-tuning does, with ``antialias`` and ``offset`` as in ``ResampleMode``.
    """

    TEST_CONFIGS = ({}, dict(interpolation='bicubic', prefix_entries=1))

    def __init__(self, dim: int, ref_grid: Grid, num_prefix_tokens: int, prefix_entries: int = 0,
                 temperature: float = 10000.0, interpolation: str | None = None,
                 antialias: bool = False, offset: float | None = None):
        super().__init__()
        if dim % 4:
            raise ValueError(f'SinCos2dPE needs a token width divisible by 4, got dim={dim}')
        if prefix_entries > num_prefix_tokens:
            raise ValueError(f"SinCos2dPE: prefix_entries={prefix_entries} exceeds the ViT's "
                             f'num_prefix_tokens={num_prefix_tokens}')
        self.dim, self.ref_grid = dim, tuple(ref_grid)
        self.prefix_entries, self.temperature = prefix_entries, float(temperature)
        self.mode = None if interpolation is None else ResampleMode(interpolation, antialias,
                                                                    offset)

    def grid_table(self, hw: Grid, device: torch.device) -> torch.Tensor:
        """The table for grid ``hw``: (1, H * W, dim), float32; cached per size."""
        if self.mode is None:
            return sincos_2d_table(tuple(hw), self.dim, self.temperature, device)
        return _resampled_sincos(self.ref_grid, tuple(hw), self.dim, self.temperature, self.mode,
                                 device)

    def table(self, hw: Grid) -> torch.Tensor:
        """MAE's layout: ``prefix_entries`` zero rows, then the grid: (1, P' + H * W, dim)."""
        grid = self.grid_table(hw, torch.device('cpu'))
        return torch.cat([grid.new_zeros(1, self.prefix_entries, self.dim), grid], dim=1)

    def forward(self, x: torch.Tensor, hw: Grid, num_prefix: int) -> torch.Tensor:
        grid = self.grid_table(hw, x.device).to(x.dtype)  # (1, H * W, C)
        return torch.cat([x[:, :num_prefix], x[:, num_prefix:] + grid], dim=1)

    def extra_repr(self) -> str:
        return (f'dim={self.dim}, ref_grid={self.ref_grid}, temperature={self.temperature}, '
                f'mode={self.mode}')

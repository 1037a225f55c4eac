"""2D rotary position embedding for ViTs: axial (fixed) or mixed (learned) frequencies."""
import math

import torch
from torch import nn

from vitdense.registry import POS_ENCODINGS

from .base import AttentionPosEncoding, Grid, ResampleCache
from .grid import device_key, grid_coords, tensor_cache

MODES = ('axial', 'mixed')
COORDS = ('patch', 'scaled')


def rope_positions(hw: Grid, ref_grid: Grid, coords: str, device: torch.device) -> torch.Tensor:
    """(x, y) position of every grid token: (N, 2) float32, row-major.

    'patch': integer patch indices (a larger grid extrapolates to larger positions);
    'scaled': indices times ref / size, so any grid spans the reference grid's range
    (position interpolation, as EVA-02).
    """
    yx = grid_coords(hw[0], hw[1], device).float()  # (N, 2) as (y, x)
    if coords == 'scaled':
        yx = yx * torch.tensor([ref_grid[0] / hw[0], ref_grid[1] / hw[1]], device=device)
    return yx.flip(1)  # (N, 2) as (x, y)


def rope_rotations(pos: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Unit complex numbers ``exp(i (t_x f_x + t_y f_y))`` per channel pair: (H', N, d / 2).

    Args:
        pos: (N, 2) as (x, y).
        freqs: (2, H', d / 2), the x and y frequency of each channel pair per head.
    """
    angles = pos[None, :, 0:1] * freqs[0][:, None] + pos[None, :, 1:2] * freqs[1][:, None]
    return torch.polar(torch.ones_like(angles), angles)  # (H', N, d / 2)


def axial_magnitudes(head_dim: int, theta: float) -> torch.Tensor:
    """``theta ** (-4k / head_dim)`` for k < head_dim / 4: (head_dim / 4,) float32."""
    return 1.0 / theta ** (torch.arange(0, head_dim, 4)[:head_dim // 4].float() / head_dim)


@tensor_cache()
def _axial_rotations(hw: Grid, ref_grid: Grid, coords: str, head_dim: int, theta: float,
                     device: torch.device) -> torch.Tensor:
    mag = axial_magnitudes(head_dim, theta).to(device)  # (d / 4,)
    zeros = torch.zeros_like(mag)
    freqs = torch.stack([torch.cat([mag, zeros]), torch.cat([zeros, mag])])[:, None]  # (2, 1, d/2)
    return rope_rotations(rope_positions(hw, ref_grid, coords, device), freqs)


def rotate(x: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (x_2m, x_2m+1) as complex numbers: (B, heads, N, d) -> same.

    Computed in float32 (as rope-vit) and cast back to the dtype of x.
    """
    xf = x.float()
    if xf.storage_offset() % 2 or any(st % 2 for st in xf.stride()[:-1]) or xf.stride(-1) != 1:
        xf = xf.contiguous()  # view_as_complex needs even strides and offset
    pairs = torch.view_as_complex(xf.unflatten(-1, (-1, 2)))  # (B, heads, N, d / 2)
    return torch.view_as_real(pairs * rotations).flatten(-2).to(x.dtype)  # (B, heads, N, d)


@POS_ENCODINGS.register_module()
class RoPE2d(AttentionPosEncoding):
    """Rotates q and k of the patch tokens by angles linear in their 2D position.

    Heo et al. 2024, "Rotary Position Embedding for Vision Transformer", arXiv 2403.13298
    (naver-ai/rope-vit); Su et al. 2021, "RoFormer", arXiv 2104.09864 (the 1D form). Channel pairs
    (2m, 2m + 1) turn by ``t_x f^x_m + t_y f^y_m``. 'axial': fixed frequencies
    ``theta^(-4k/d)``, the first d/4 pairs by x and the next d/4 by y (theta 100). 'mixed':
    learned per-head frequencies ``freqs`` (2, heads, d/2) mixing x and y in every pair,
    initialised as the paper's ``init_random_2d_freqs`` (theta 10). Prefix tokens are not
    rotated; there is no bias. The logits ``q_i . k_j`` then depend on ``p_i - p_j`` only.

    Args:
        num_heads, head_dim: of the attention (head_dim a multiple of 4).
        ref_grid: the reference grid (for ``coords='scaled'``).
        mode: 'axial' or 'mixed'.
        coords: 'patch' (integer patch coordinates: extrapolate to larger inputs, as the paper)
            or 'scaled' (coordinates rescaled to the reference grid: interpolate).
        theta: frequency base; None: 100 for 'axial', 10 for 'mixed'.
    """

    TEST_CONFIGS = (dict(mode='axial'), dict(mode='mixed', coords='scaled'))

    def __init__(self, num_heads: int, head_dim: int, ref_grid: Grid, mode: str = 'axial',
                 coords: str = 'patch', theta: float | None = None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'RoPE2d: mode must be one of {MODES}, got {mode!r}')
        if coords not in COORDS:
            raise ValueError(f'RoPE2d: coords must be one of {COORDS}, got {coords!r}')
        if head_dim % 4:
            raise ValueError(f'RoPE2d needs head_dim divisible by 4, got {head_dim}')
        self.mode, self.coords, self.head_dim = mode, coords, head_dim
        self.ref_grid = tuple(ref_grid)
        self.theta = float(theta if theta is not None else (100.0 if mode == 'axial' else 10.0))
        self.freqs = None
        if mode == 'mixed':
            self.freqs = nn.Parameter(self.init_mixed_freqs(num_heads, head_dim, self.theta))
        self._cache = ResampleCache()

    @staticmethod
    def init_mixed_freqs(num_heads: int, head_dim: int, theta: float) -> torch.Tensor:
        """rope-vit's ``init_random_2d_freqs``: (2, heads, d/2), a random direction per head."""
        mag = axial_magnitudes(head_dim, theta)  # (d / 4,)
        phi = torch.rand(num_heads, 1) * 2 * math.pi  # (heads, 1)
        fx = torch.cat([mag * phi.cos(), mag * (phi + math.pi / 2).cos()], dim=-1)  # (heads, d/2)
        fy = torch.cat([mag * phi.sin(), mag * (phi + math.pi / 2).sin()], dim=-1)
        return torch.stack([fx, fy])

    def rotations(self, hw: Grid, device: torch.device) -> torch.Tensor:
        """Complex rotation of every channel pair of grid ``hw``: (1 or heads, N, head_dim / 2);
        cached per size (in eval mode for 'mixed')."""
        hw = tuple(hw)
        if self.freqs is None:
            return _axial_rotations(hw, self.ref_grid, self.coords, self.head_dim, self.theta,
                                    device)
        return self._cache.get(self, (hw, device_key(self.freqs)), lambda: rope_rotations(
            rope_positions(hw, self.ref_grid, self.coords, device), self.freqs.float()))

    def forward(self, q: torch.Tensor, k: torch.Tensor, hw: Grid,
                num_prefix: int) -> tuple[torch.Tensor, torch.Tensor, None]:
        rotations = self.rotations(hw, q.device)
        p = num_prefix
        if not p:
            return rotate(q, rotations), rotate(k, rotations), None
        q = torch.cat([q[:, :, :p], rotate(q[:, :, p:], rotations)], dim=2)
        k = torch.cat([k[:, :, :p], rotate(k[:, :, p:], rotations)], dim=2)
        return q, k, None

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, coords={self.coords!r}, theta={self.theta}, '
                f'ref_grid={self.ref_grid}')

"""ViT sizes as data: (embed dim, depth, heads, MLP ratio)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class ViTSize:
    dim: int
    depth: int
    num_heads: int
    mlp_ratio: float = 4.0


VIT_SIZES: dict[str, ViTSize] = {
    'test': ViTSize(dim=32, depth=2, num_heads=2),
    'tiny': ViTSize(dim=192, depth=12, num_heads=3),
    'small': ViTSize(dim=384, depth=12, num_heads=6),
    'base': ViTSize(dim=768, depth=12, num_heads=12),
    'large': ViTSize(dim=1024, depth=24, num_heads=16),
    'huge': ViTSize(dim=1280, depth=32, num_heads=16),
}


def get_vit_size(arch: str | dict) -> ViTSize:
    """Look up a size by name, or build one from a dict (``dim``, ``depth``, ``num_heads``
    [, ``mlp_ratio``]), failing with the known names or the bad keys."""
    if isinstance(arch, dict):
        try:
            return ViTSize(**arch)
        except TypeError as err:
            raise ValueError(f'ViT arch dict {arch} is invalid ({err}); give dim, depth, '
                             'num_heads and optionally mlp_ratio') from None
    if arch not in VIT_SIZES:
        raise KeyError(f"Unknown ViT arch {arch!r}; known: {', '.join(VIT_SIZES)}. Or give "
                       f'embed_dim/depth/num_heads explicitly.')
    return VIT_SIZES[arch]

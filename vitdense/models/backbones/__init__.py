from .hybrid_stems import ResNetHybridStem, SpatialPriorStem
from .stems import ConvStem
from .variants import VIT_SIZES, ViTSize, get_vit_size
from .vit import ViT

__all__ = ['ConvStem', 'ResNetHybridStem', 'SpatialPriorStem', 'VIT_SIZES', 'ViT', 'ViTSize',
           'get_vit_size']

from .basic_block_stem import BasicBlockStem
from .hybrid_stems import ResNetHybridStem, SpatialPriorStem
from .stem_backbone import StemBackbone
from .stems import ConvStem
from .variants import VIT_SIZES, ViTSize, get_vit_size
from .vit import ViT

__all__ = ['BasicBlockStem', 'ConvStem', 'ResNetHybridStem', 'SpatialPriorStem', 'StemBackbone',
           'VIT_SIZES', 'ViT', 'ViTSize', 'get_vit_size']

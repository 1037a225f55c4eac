from .basic_block_stem import BasicBlockStem
from .hybrid_stems import ResNetHybridStem, SpatialPriorStem
from .stem_backbone import StemBackbone
from .stems import ConvStem
from .variants import VIT_SIZES, ViTSize, get_vit_size
from .vit import ViT
from .vit_weights import LoadReport, load_pretrained

__all__ = ['BasicBlockStem', 'ConvStem', 'LoadReport', 'ResNetHybridStem', 'SpatialPriorStem',
           'StemBackbone', 'VIT_SIZES', 'ViT', 'ViTSize', 'get_vit_size', 'load_pretrained']

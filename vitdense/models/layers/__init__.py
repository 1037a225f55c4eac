from .attention import Attention
from .block import Block
from .conv_block import ResBottleneckBlock
from .drop_path import DropPath, LayerScale, drop_path
from .mlp import Mlp
from .norm import LayerNorm2d, build_norm2d, conv_norm
from .patch_embed import PatchEmbed
from .pooling import AdaptiveAvgPool2d, adaptive_avg_pool2d_by_sums
from .windows import pad_to_multiple, window_partition, window_unpartition

__all__ = ['AdaptiveAvgPool2d', 'Attention', 'Block', 'DropPath', 'LayerNorm2d', 'LayerScale',
           'Mlp', 'PatchEmbed', 'ResBottleneckBlock', 'adaptive_avg_pool2d_by_sums',
           'build_norm2d', 'conv_norm', 'drop_path', 'pad_to_multiple', 'window_partition',
           'window_unpartition']

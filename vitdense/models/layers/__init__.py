from .attention import Attention
from .block import Block
from .conv_block import ResBottleneckBlock
from .decomposed_attention import DecomposedBias, decomposed_bias_attention
from .drop_path import DropPath, LayerScale, drop_path
from .mlp import Mlp
from .norm import LayerNorm2d, build_norm2d, conv_norm
from .patch_embed import PatchEmbed
from .pooling import AdaptiveAvgPool2d, adaptive_avg_pool2d_by_sums
from .tracing import is_tracing
from .windows import pad_to_multiple, window_partition, window_unpartition

__all__ = ['AdaptiveAvgPool2d', 'Attention', 'Block', 'DecomposedBias', 'DropPath', 'LayerNorm2d',
           'LayerScale', 'Mlp', 'PatchEmbed', 'ResBottleneckBlock', 'adaptive_avg_pool2d_by_sums',
           'build_norm2d', 'conv_norm', 'decomposed_bias_attention', 'drop_path', 'is_tracing',
           'pad_to_multiple', 'window_partition', 'window_unpartition']

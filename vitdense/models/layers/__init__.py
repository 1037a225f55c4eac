from .attention import Attention
from .block import Block
from .conv_block import ResBottleneckBlock
from .decomposed_attention import DecomposedBias, decomposed_bias_attention
from .drop_path import DropPath, LayerScale, drop_path
from .mlp import Mlp
from .norm import LayerNorm2d, build_norm2d, conv_norm
from .patch_embed import PatchEmbed
from .tracing import is_tracing
from .windows import pad_to_multiple, window_partition, window_unpartition

__all__ = ['Attention', 'Block', 'DecomposedBias', 'DropPath', 'LayerNorm2d', 'LayerScale',
           'Mlp', 'PatchEmbed', 'ResBottleneckBlock', 'build_norm2d', 'conv_norm',
           'decomposed_bias_attention', 'drop_path', 'is_tracing', 'pad_to_multiple',
           'window_partition', 'window_unpartition']

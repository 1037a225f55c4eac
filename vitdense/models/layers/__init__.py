from .attention import Attention
from .block import Block
from .conv_block import ResBottleneckBlock
from .drop_path import DropPath, LayerScale, drop_path
from .mlp import Mlp
from .norm import LayerNorm2d, build_norm2d, conv_norm
from .patch_embed import PatchEmbed
from .windows import pad_to_multiple, window_partition, window_unpartition

__all__ = ['Attention', 'Block', 'DropPath', 'LayerNorm2d', 'LayerScale', 'Mlp', 'PatchEmbed',
           'ResBottleneckBlock', 'build_norm2d', 'conv_norm', 'drop_path', 'pad_to_multiple',
           'window_partition', 'window_unpartition']

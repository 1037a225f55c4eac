from .absolute import LearnedAbsolutePE
from .attention_bias import AttentionBias, ExtraChannelsBias, attend
from .base import AttentionPosEncoding, ConditionalPosEncoding, ResampleCache, TokenPosEncoding
from .chunked_attention import ChunkedBias, chunked_bias_attention
from .conditional import ConditionalPEG
from .decomposed import DecomposedRelPosPE, get_rel_pos
from .decomposed_attention import DecomposedBias, decomposed_bias_attention
from .irpe import IRPE, piecewise_index
from .offset_bias import OffsetBias
from .relative import RelPosBiasPE, resize_bias_table
from .resample import ResampleMode, resample_grid_table
from .rope import RoPE2d
from .sincos import SinCos2dPE, sincos_2d_table, sincos_embed
from .window_tiled import WindowTiledAbsolutePE

__all__ = ['AttentionBias', 'AttentionPosEncoding', 'ChunkedBias', 'ConditionalPEG',
           'ConditionalPosEncoding', 'OffsetBias', 'chunked_bias_attention',
           'DecomposedBias', 'DecomposedRelPosPE', 'ExtraChannelsBias', 'IRPE',
           'LearnedAbsolutePE', 'RelPosBiasPE', 'ResampleCache', 'ResampleMode', 'RoPE2d',
           'SinCos2dPE', 'TokenPosEncoding', 'WindowTiledAbsolutePE', 'attend',
           'decomposed_bias_attention', 'get_rel_pos', 'piecewise_index',
           'resample_grid_table', 'resize_bias_table',
           'sincos_2d_table', 'sincos_embed']

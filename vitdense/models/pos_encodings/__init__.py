from .absolute import LearnedAbsolutePE
from .base import (AttentionPosEncoding, ConditionalPosEncoding, ResampleCache,
                   TokenPosEncoding)
from .resample import ResampleMode, resample_grid_table

__all__ = ['AttentionPosEncoding', 'ConditionalPosEncoding', 'LearnedAbsolutePE',
           'ResampleCache', 'ResampleMode', 'TokenPosEncoding', 'resample_grid_table']

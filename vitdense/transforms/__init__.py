"""Pipeline transforms (mmdet/mmseg results-dict keys), registered in ``TRANSFORMS``."""
from .albu import Albu
from .formatting import PackDetInputs, PackSegInputs
from .geometric import RandomCrop, RandomFlip, RandomResize, Resize
from .loading import LoadAnnotations, LoadImageFromFile

__all__ = ['Albu', 'LoadAnnotations', 'LoadImageFromFile', 'PackDetInputs', 'PackSegInputs',
           'RandomCrop', 'RandomFlip', 'RandomResize', 'Resize']

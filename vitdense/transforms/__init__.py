"""Pipeline transforms (mmdet/mmseg results-dict keys), registered in ``TRANSFORMS``."""
from .albu import Albu
from .copy_paste import CopyPaste
from .crop_object import CropObject
from .formatting import PackClsInputs, PackDetInputs, PackSegInputs
from .geometric import RandomCrop, RandomFlip, RandomResize, Resize
from .loading import LoadAnnotations, LoadImageFromFile

__all__ = ['Albu', 'CopyPaste', 'CropObject', 'LoadAnnotations', 'LoadImageFromFile',
           'PackClsInputs', 'PackDetInputs', 'PackSegInputs', 'RandomCrop', 'RandomFlip',
           'RandomResize', 'Resize']

from .data_preprocessor import DenseDataPreprocessor
from .detector import Detector
from .segmentor import Segmentor

__all__ = ['DenseDataPreprocessor', 'Detector', 'Segmentor']

from .data_preprocessor import DenseDataPreprocessor
from .detector import Detector
from .seg_tta import SegTTAModel
from .segmentor import Segmentor

__all__ = ['DenseDataPreprocessor', 'Detector', 'SegTTAModel', 'Segmentor']

from .data_preprocessor import DenseDataPreprocessor
from .det_tta import DetTTAModel
from .detector import Detector
from .seg_tta import SegTTAModel
from .segmentor import Segmentor

__all__ = ['DenseDataPreprocessor', 'DetTTAModel', 'Detector', 'SegTTAModel', 'Segmentor']

from .draw import draw_detections, draw_segmentation, make_palette
from .hook import DrawPredictionsHook

__all__ = ['DrawPredictionsHook', 'draw_detections', 'draw_segmentation', 'make_palette']

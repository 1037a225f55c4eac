from .draw import (
    bgr_palette,
    draw_detections,
    draw_label_map,
    draw_legend,
    draw_segmentation,
    make_palette,
    text_scale,
)
from .hook import DrawPredictionsHook

__all__ = ['DrawPredictionsHook', 'bgr_palette', 'draw_detections', 'draw_label_map', 'draw_legend',
           'draw_segmentation', 'make_palette', 'text_scale']

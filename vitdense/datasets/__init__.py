"""Datasets: COCO-format and YOLO-format detection, COCO objects as classification crops, and
ADE20K-layout segmentation; each (but YOLO) with the built-in shapes classes as a registered
dataset.

The built-in shapes data is written by :mod:`vitdense.datasets.shapes` (not imported here, so that
``python -m vitdense.datasets.shapes`` runs it cleanly).
"""
from .ade20k import ADE20K_CLASSES, ADE20KDataset
from .coco import COCO_CLASSES, CocoDataset
from .metainfo import make_palette
from .multi_image_mix import MultiImageMixDataset
from .object_crops import ObjectCropDataset
from .shapes_datasets import (
    SHAPES_CLASSES,
    SHAPES_SEG_CLASSES,
    ShapesCropDataset,
    ShapesDataset,
    ShapesSegDataset,
)
from .yolo import YoloDataset

__all__ = ['ADE20K_CLASSES', 'ADE20KDataset', 'COCO_CLASSES', 'CocoDataset',
           'MultiImageMixDataset', 'ObjectCropDataset', 'SHAPES_CLASSES', 'SHAPES_SEG_CLASSES',
           'ShapesCropDataset', 'ShapesDataset', 'ShapesSegDataset', 'YoloDataset',
           'make_palette']

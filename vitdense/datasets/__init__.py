"""Datasets: COCO-format detection, its objects as classification crops, and ADE20K-layout
segmentation.

The built-in shapes data is written by :mod:`vitdense.datasets.shapes` (not imported here, so that
``python -m vitdense.datasets.shapes`` runs it cleanly).
"""
from .ade20k import ADE20K_CLASSES, ADE20KDataset
from .coco import COCO_CLASSES, CocoDataset
from .metainfo import make_palette
from .object_crops import ObjectCropDataset

__all__ = ['ADE20K_CLASSES', 'ADE20KDataset', 'COCO_CLASSES', 'CocoDataset', 'ObjectCropDataset',
           'make_palette']

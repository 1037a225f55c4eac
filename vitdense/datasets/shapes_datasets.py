"""The built-in ``shapes`` data as registered datasets: its classes are written here, once.

``ShapesDataset`` (COCO boxes), ``ShapesSegDataset`` (ADE20K-layout labels, background learned
as class 0, as in Pascal VOC) and ``ShapesCropDataset`` (one classification crop per object) are
the generic readers with the shapes classes as their default ``metainfo``, as mmdet's
``VOCDataset`` is a ``CocoDataset``-like reader with the VOC classes. A ``metainfo=`` in a config
still overrides them. The files are written by :mod:`vitdense.datasets.shapes`.
"""
from typing import Optional

from mmengine.config import Config

from vitdense.datasets.ade20k import ADE20KDataset
from vitdense.datasets.coco import CocoDataset
from vitdense.datasets.metainfo import make_palette
from vitdense.datasets.object_crops import ObjectCropDataset
from vitdense.registry import DATASETS

SHAPES_CLASSES = ('circle', 'square', 'triangle', 'star', 'hexagon', 'cross', 'ring', 'crescent')
# Segmentation classes: background is label 0, learned and scored (``reduce_zero_label=False``).
SHAPES_SEG_CLASSES = ('background', ) + SHAPES_CLASSES
SHAPES_METAINFO = dict(classes=SHAPES_CLASSES, palette=make_palette(len(SHAPES_CLASSES)))


@DATASETS.register_module()
class ShapesDataset(CocoDataset):
    """The shapes scenes' boxes (``annotations/instances_{train,val}.json``), 8 classes."""

    METAINFO = SHAPES_METAINFO


@DATASETS.register_module()
class ShapesCropDataset(ObjectCropDataset):
    """The shapes objects as classification crops, 8 classes."""

    METAINFO = SHAPES_METAINFO


@DATASETS.register_module()
class ShapesSegDataset(ADE20KDataset):
    """The shapes label maps (``annotations/{training,validation}/*.png``): 0 is background, a
    class learned and scored like the 8 shapes (9 classes, ``reduce_zero_label=False``).

    ``metainfo['background_index']`` is 0 (drawings leave background transparent). A
    ``metainfo`` override whose classes replace the default ones keeps a background index only
    where its classes include ``'background'`` (or where it sets one itself).
    """

    METAINFO = dict(classes=SHAPES_SEG_CLASSES, palette=make_palette(len(SHAPES_SEG_CLASSES)),
                    background_index=0)
    REDUCE_ZERO_LABEL = False

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict | Config] = None) -> dict:
        merged = super()._load_metainfo(metainfo)
        if metainfo is not None and 'classes' in metainfo and 'background_index' not in metainfo:
            classes = merged['classes']
            merged.pop('background_index')
            if 'background' in classes:
                merged['background_index'] = classes.index('background')
        return merged

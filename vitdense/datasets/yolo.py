"""YOLO-format (Ultralytics) detection dataset: the entries of :class:`CocoDataset`.

A user who labels with a tool that exports the YOLO format trains and evaluates on it without
converting to COCO. The files and the label rules are in :mod:`vitdense.datasets.yolo_format`.

Evaluation stays :class:`vitdense.evaluation.CocoMetric`, given no ``ann_file``: it builds its
COCO ground truth in memory from the evaluated samples' ``gt_instances``, which this dataset read
from the same label files (mapped back to original pixels through ``scale_factor``); no temporary
json is written. Box areas, which decide COCO's small / medium / large split, are then
``w * h`` of the boxes (a COCO file from a segmentation tool may store mask areas instead).
"""
import os.path as osp
import warnings
from typing import Callable, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.logging import print_log

from vitdense.datasets.coco import check_filter_cfg, clip_coco_box, filter_detection_data
from vitdense.datasets.metainfo import CompletedMetainfo
from vitdense.datasets.yolo_format import (
    image_size,
    label_path,
    list_images,
    read_data_yaml,
    read_label_file,
    yolo_to_xywh,
)
from vitdense.registry import DATASETS

# A box counts as clipped (in the warning) when clipping moved an edge by more than this; label
# files store fractions with ~6 decimals, which put border boxes a hair outside the image.
CLIP_TOLERANCE_PX = 0.01


@DATASETS.register_module()
class YoloDataset(CompletedMetainfo):
    """Boxes from YOLO label files (``class cx cy w h`` per line, fractions of the image size).

    Each ``data_list`` entry is what :class:`CocoDataset` gives, so the same pipelines work:
    ``img_path``, ``img_id`` (1..N in sorted path order), ``height``, ``width`` and
    ``instances`` with ``bbox`` [x1, y1, x2, y2] in pixels clipped to the image, ``bbox_label``
    (the class number) and ``ignore_flag`` = 0 (the format has no crowd / ignore boxes). Boxes
    under 1 px after clipping are dropped; one warning counts dropped and clipped boxes. An
    image without a label file has no objects.

    The class names are the data YAML's ``names`` (list or ``{0: name}`` dict); width and
    height come from each image's header (after EXIF rotation, as OpenCV decodes it).

    Args:
        ann_file: the data YAML, relative to ``data_root`` (e.g. ``'data.yaml'``).
        split: ``'train'``, ``'val'`` or ``'test'``: the YAML key that lists the images.
        metainfo: extra meta information (e.g. ``palette``); ``classes``, if given, must equal
            the YAML's names.
        data_root: folder of the data YAML.
        filter_cfg: ``dict(filter_empty_gt=True, min_size=0)`` (training only), as CocoDataset.
        indices, serialize_data, pipeline, test_mode, lazy_init, max_refetch: as
            :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO: dict = dict()

    def __init__(self, ann_file: str = 'data.yaml', split: str = 'train',
                 metainfo: Optional[dict | Config] = None, data_root: str = '',
                 filter_cfg: Optional[dict] = None, indices: Optional[int | Sequence[int]] = None,
                 serialize_data: bool = True, pipeline: Sequence[dict | Callable] = (),
                 test_mode: bool = False, lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        check_filter_cfg(filter_cfg, 'YoloDataset')
        yaml_path = ann_file if osp.isabs(ann_file) or not data_root else osp.join(data_root,
                                                                                   ann_file)
        self.yolo_data = read_data_yaml(yaml_path)
        self.split = split
        names = self.yolo_data.names
        given = dict(metainfo or {})
        if 'classes' in given and tuple(given['classes']) != names:
            raise ValueError(f"YoloDataset: metainfo classes {tuple(given['classes'])} differ "
                             f"from the names {names} of '{yaml_path}'; the class numbers in "
                             "the label files index the YAML's names, so edit the YAML instead "
                             '(or leave classes out of metainfo).')
        given['classes'] = names
        self._num_dropped = self._num_clipped = 0  # boxes, counted while loading
        super().__init__(ann_file=ann_file, metainfo=given, data_root=data_root,
                         data_prefix=dict(), filter_cfg=filter_cfg, indices=indices,
                         serialize_data=serialize_data, pipeline=list(pipeline),
                         test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    def load_data_list(self) -> list[dict]:
        """Read every image header and label file of the split (see the class docstring)."""
        num_classes = len(self.yolo_data.names)
        self._num_dropped = self._num_clipped = 0
        data_list, unlabelled = [], 0
        for img_id, img_path in enumerate(list_images(self.yolo_data, self.split), start=1):
            labels = label_path(img_path)
            unlabelled += not osp.isfile(labels)
            width, height = image_size(img_path)
            rows = read_label_file(labels, num_classes)  # (N, 5)
            instances = []
            for cls, box in zip(rows[:, 0].tolist(), yolo_to_xywh(rows, width, height).tolist()):
                xyxy, _ = clip_coco_box(box, width, height)
                if not xyxy:
                    self._num_dropped += 1
                    continue
                x, y, w, h = box  # rounding of the fractions moves an edge by far less
                moved = np.abs(np.subtract(xyxy, [x, y, x + w, y + h])).max()
                self._num_clipped += int(moved > CLIP_TOLERANCE_PX)
                instances.append(dict(bbox=xyxy, bbox_label=int(cls), ignore_flag=0))
            data_list.append(dict(img_path=img_path, img_id=img_id, height=height, width=width,
                                  instances=instances))
        if not data_list:
            raise ValueError(f"YoloDataset: the '{self.split}' split of '{self.ann_file}' has "
                             f'no images (sources {self.yolo_data.splits[self.split]}).')
        if unlabelled:
            print_log(f"YoloDataset '{self.ann_file}' ({self.split}): {unlabelled} of "
                      f'{len(data_list)} images have no label file and count as images without '
                      'objects.', logger='current')
        if self._num_dropped or self._num_clipped:
            warnings.warn(f"'{self.ann_file}' ({self.split}): dropped {self._num_dropped} boxes "
                          f'under 1 px, clipped {self._num_clipped} boxes that cross the image '
                          'border.', stacklevel=2)
        return data_list

    def filter_data(self) -> list[dict]:
        """Apply ``filter_cfg`` in training; keep every image in ``test_mode``."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        return filter_detection_data(self.data_list, self.filter_cfg)

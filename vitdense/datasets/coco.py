"""COCO-format detection dataset (mmdet 3.x ``CocoDataset`` semantics)."""
import json
import math
import os.path as osp
import warnings
from collections import defaultdict
from typing import Callable, Optional, Sequence

from mmengine.config import Config

from vitdense.datasets.metainfo import CompletedMetainfo, make_palette
from vitdense.datasets.paths import COCO_HINT, require_path
from vitdense.registry import DATASETS

COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush')

FILTER_KEYS = ('filter_empty_gt', 'min_size')


def load_json(path: str) -> dict:
    """Read a JSON annotation file; invalid JSON raises ``ValueError`` naming file and position."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"Annotation file '{path}' is not valid JSON: {err.msg} at line "
                         f'{err.lineno}, column {err.colno} (character {err.pos}). The file is '
                         'truncated or corrupt: download or generate it again.') from err


def clip_coco_box(bbox: Sequence[float], width: int, height: int) -> tuple[list[float], bool]:
    """COCO [x, y, w, h] to [x1, y1, x2, y2] clipped to the image.

    Returns:
        The clipped box and whether clipping changed it. A box narrower or lower than 1 px after
        clipping (zero-area, negative size, or outside the image) or with a NaN or infinite
        coordinate comes back as an empty list.
    """
    x, y, w, h = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return [], True
    box = [max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))]
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        return [], True
    return box, box != [x, y, x + w, y + h]


def check_filter_cfg(filter_cfg: Optional[dict], dataset: str) -> None:
    """Raise naming the unknown keys of a detection dataset's ``filter_cfg``."""
    unknown = set(filter_cfg or {}) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f'Unknown filter_cfg keys {sorted(unknown)}; {dataset} supports '
                         f'{FILTER_KEYS}.')


def filter_detection_data(data_list: list[dict], filter_cfg: dict) -> list[dict]:
    """The entries kept by ``filter_cfg``: ``filter_empty_gt`` drops images without a
    non-ignored box, ``min_size`` images whose shorter side is smaller."""
    filter_empty = filter_cfg.get('filter_empty_gt', False)
    min_size = filter_cfg.get('min_size', 0)
    return [info for info in data_list
            if min(info['width'], info['height']) >= min_size and
            (not filter_empty or any(not i['ignore_flag'] for i in info['instances']))]


@DATASETS.register_module()
class CocoDataset(CompletedMetainfo):
    """Boxes from a COCO-format annotation file, as mmdet 3.x reads them.

    Each ``data_list`` entry has ``img_path``, ``img_id``, ``height``, ``width`` and
    ``instances``: ``bbox`` [x1, y1, x2, y2] clipped to the image, ``bbox_label`` (index in
    ``metainfo['classes']``) and ``ignore_flag`` (1 for ``iscrowd`` boxes). Boxes smaller than
    1 px after clipping, or with a NaN/inf coordinate, are dropped; one warning per dataset counts
    dropped and clipped boxes, and another the annotations skipped because their image_id or
    category_id is not in the file. Duplicate image ids, and records without the keys COCO
    requires, raise naming the record. An annotation's ``segmentation`` (polygons or RLE) is
    kept as the instance's ``mask``, as mmdet keeps it (``LoadAnnotations(with_instance_map=True)``
    draws it). With a ``seg`` folder in ``data_prefix`` (mmdet's convention), each entry also has
    ``seg_map_path``: the image's label map there, named like the image with ``seg_map_suffix``
    (``LoadAnnotations(with_seg=True)`` reads it; e.g. a detector's ``semantic_head``).

    Args:
        ann_file: annotation file, relative to ``data_root``.
        metainfo: ``dict(classes=(...))`` keeps only the categories of those names, labelled
            0..K-1 in that order (default: the 80 COCO classes).
        data_root: dataset folder.
        data_prefix: ``dict(img='train2017/')``, the image folder relative to ``data_root``,
            and optionally ``seg='<label map folder>/'``.
        seg_map_suffix: file ending of the label maps (with ``data_prefix['seg']``).
        filter_cfg: ``dict(filter_empty_gt=True, min_size=0)`` (training only): drop images
            without a non-ignored box, and images whose shorter side is under ``min_size``.
        indices, serialize_data, pipeline, test_mode, lazy_init, max_refetch: as
            :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=COCO_CLASSES, palette=make_palette(len(COCO_CLASSES)))

    def __init__(self, ann_file: str = '', metainfo: Optional[dict | Config] = None,
                 data_root: str = '', data_prefix: Optional[dict] = None,
                 filter_cfg: Optional[dict] = None, indices: Optional[int | Sequence[int]] = None,
                 serialize_data: bool = True, pipeline: Sequence[dict | Callable] = (),
                 test_mode: bool = False, lazy_init: bool = False,
                 max_refetch: int = 1000, seg_map_suffix: str = '.png') -> None:
        data_prefix = dict(img='') if data_prefix is None else data_prefix
        if 'img' not in data_prefix or not set(data_prefix) <= {'img', 'seg'}:
            raise ValueError(f"CocoDataset takes data_prefix=dict(img='<image folder>/') and "
                             f"optionally seg='<label map folder>/', got {data_prefix}.")
        self.seg_map_suffix = seg_map_suffix
        check_filter_cfg(filter_cfg, 'CocoDataset')
        self.cat_ids: list[int] = []
        self.cat2label: dict[int, int] = {}
        self._num_dropped = self._num_clipped = 0  # boxes, counted while loading
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, filter_cfg=filter_cfg, indices=indices,
                         serialize_data=serialize_data, pipeline=list(pipeline),
                         test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    def load_data_list(self) -> list[dict]:
        """Read the annotation file into ``data_list`` entries (see the class docstring)."""
        if self.data_root:
            require_path(self.data_root, 'Dataset folder (data_root)', COCO_HINT)
        require_path(self.ann_file, 'Annotation file (ann_file)', COCO_HINT)
        coco = load_json(self.ann_file)
        for key in ('images', 'categories'):  # 'annotations' is absent from test-dev files
            if not isinstance(coco, dict) or key not in coco:
                raise ValueError(f"Annotation file '{self.ann_file}' has no '{key}' list; it is "
                                 'not a COCO detection file.')
        self._set_categories(coco['categories'])
        image_ids = self._check_image_ids(coco['images'])
        known_cats = {cat['id'] for cat in coco['categories']}
        anns_by_image = defaultdict(list)
        orphans = unknown_cats = 0
        for ann in coco.get('annotations', []):
            missing = [key for key in ('image_id', 'category_id', 'bbox') if key not in ann]
            if missing:
                raise ValueError(f"Annotation {ann.get('id')} in '{self.ann_file}' lacks "
                                 f'{missing}; COCO annotations need image_id, category_id and '
                                 'bbox.')
            if ann['image_id'] not in image_ids:
                orphans += 1
            elif ann['category_id'] not in known_cats:
                unknown_cats += 1
            elif ann['category_id'] in self.cat2label:
                anns_by_image[ann['image_id']].append(ann)
        self._num_dropped = self._num_clipped = 0
        data_list = [self.parse_data_info(dict(raw_img_info=img,
                                               raw_ann_info=anns_by_image[img['id']]))
                     for img in coco['images']]
        if self._num_dropped or self._num_clipped:
            warnings.warn(f"'{self.ann_file}': dropped {self._num_dropped} boxes that are empty, "
                          f'not finite or outside their image, clipped {self._num_clipped} boxes '
                          'that cross the image border.', stacklevel=2)
        if orphans or unknown_cats:
            warnings.warn(f"'{self.ann_file}': skipped {orphans} annotations whose image_id is "
                          f"not in 'images' and {unknown_cats} whose category_id is not in "
                          "'categories'.", stacklevel=2)
        return data_list

    def _check_image_ids(self, images: list[dict]) -> set:
        """The image ids; a record without one or an id used twice raises, naming them."""
        seen: dict = {}
        for img in images:
            if not isinstance(img, dict) or 'id' not in img:
                raise ValueError(f"Image record {img} in '{self.ann_file}' has no 'id'.")
            if img['id'] in seen:
                raise ValueError(f"Annotation file '{self.ann_file}' has two images with id "
                                 f"{img['id']} ({seen[img['id']]!r} and "
                                 f"{img.get('file_name')!r}); image ids must be unique.")
            seen[img['id']] = img.get('file_name')
        return set(seen)

    def _set_categories(self, categories: list[dict]) -> None:
        """Map the category ids of ``metainfo['classes']`` (by name) to labels 0..K-1."""
        name2id = {}
        for cat in categories:
            if cat['name'] in name2id:
                raise ValueError(f"Annotation file '{self.ann_file}' has two categories named "
                                 f"'{cat['name']}' (ids {name2id[cat['name']]} and {cat['id']}).")
            name2id[cat['name']] = cat['id']
        classes = self.metainfo['classes']
        missing = [name for name in classes if name not in name2id]
        if missing:
            raise ValueError(f"Classes {missing} are not categories of '{self.ann_file}', which "
                             f'has {sorted(name2id)}. Set metainfo=dict(classes=(...)) in the '
                             'dataset config to the classes of this file.')
        self.cat_ids = [name2id[name] for name in classes]
        self.cat2label = {cat_id: label for label, cat_id in enumerate(self.cat_ids)}

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """One image: ``raw_img_info`` (COCO image record), ``raw_ann_info`` (its annotations)."""
        img = raw_data_info['raw_img_info']
        missing = [key for key in ('id', 'file_name', 'width', 'height') if key not in img]
        if missing:
            raise ValueError(f"Image record {img} in '{self.ann_file}' lacks {missing}.")
        width, height = int(img['width']), int(img['height'])
        instances = []
        for ann in raw_data_info['raw_ann_info']:
            if 'bbox' not in ann:
                raise ValueError(f"Annotation {ann.get('id')} in '{self.ann_file}' has no 'bbox'.")
            bbox = ann['bbox']
            if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                raise ValueError(f"Annotation {ann.get('id')} in '{self.ann_file}' has bbox "
                                 f'{bbox!r}; COCO boxes are [x, y, width, height].')
            box, clipped = clip_coco_box(bbox, width, height)
            if not box:
                self._num_dropped += 1
                continue
            self._num_clipped += int(clipped)
            instance = dict(bbox=box, bbox_label=self.cat2label[ann['category_id']],
                            ignore_flag=int(bool(ann.get('iscrowd', 0))))
            if ann.get('segmentation'):
                instance['mask'] = ann['segmentation']
            instances.append(instance)
        seg_map_path = None
        if self.data_prefix.get('seg') is not None:
            seg_map_path = osp.join(self.data_prefix['seg'],
                                    osp.splitext(img['file_name'])[0] + self.seg_map_suffix)
        return dict(img_path=osp.join(self.data_prefix['img'], img['file_name']),
                    img_id=img['id'], height=height, width=width, instances=instances,
                    seg_map_path=seg_map_path)

    def filter_data(self) -> list[dict]:
        """Apply ``filter_cfg`` in training; keep every image in ``test_mode``."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        return filter_detection_data(self.data_list, self.filter_cfg)

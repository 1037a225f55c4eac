"""One classification sample per object of a COCO-format detection file."""
from typing import Callable, Optional, Sequence

from mmengine.config import Config

from vitdense.datasets.coco import CocoDataset
from vitdense.datasets.metainfo import CompletedMetainfo
from vitdense.datasets.paths import COCO_HINT, require_path
from vitdense.registry import DATASETS


def object_entries(images: Sequence[dict], min_size: float) -> list[dict]:
    """Flatten CocoDataset entries into one entry per non-crowd object of ``min_size`` or more.

    Args:
        images: ``CocoDataset`` ``data_list`` entries (``img_path``, ``img_id``, ``instances``).
        min_size: smallest accepted longer box side, in pixels.

    Returns:
        Entries with ``img_path``, ``img_id``, ``bbox`` [x1, y1, x2, y2] (floats, clipped to the
        image) and ``gt_label`` (index in the dataset's classes), in file order.
    """
    entries = []
    for image in images:
        for inst in image['instances']:
            x1, y1, x2, y2 = inst['bbox']
            if inst['ignore_flag'] or max(x2 - x1, y2 - y1) < min_size:
                continue
            entries.append(dict(img_path=image['img_path'], img_id=image['img_id'],
                                bbox=[float(v) for v in inst['bbox']],
                                gt_label=int(inst['bbox_label'])))
    return entries


@DATASETS.register_module()
class ObjectCropDataset(CompletedMetainfo):
    """The objects of a COCO-format detection file as image-classification samples.

    Each entry is one object: ``img_path``, ``img_id``, ``bbox`` [x1, y1, x2, y2] (clipped to the
    image, floats) and ``gt_label`` (0..K-1 in ``metainfo['classes']`` order). Crowd objects and
    objects whose longer box side is under ``min_size`` are skipped. The file is read by
    :class:`CocoDataset` (same category matching, clipping and errors); a pipeline starting with
    ``LoadImageFromFile`` and ``CropObject`` turns an entry into the object's image.

    Args:
        ann_file: annotation file, relative to ``data_root``.
        metainfo: ``dict(classes=(...))`` keeps only the categories of those names, labelled
            0..K-1 in that order (default: the 80 COCO classes).
        data_root: dataset folder.
        data_prefix: ``dict(img='train2017/')``, the image folder relative to ``data_root``.
        min_size: smallest longer box side, in pixels, of the objects kept.
        indices, serialize_data, pipeline, test_mode, lazy_init, max_refetch: as
            :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = CocoDataset.METAINFO

    def __init__(self, ann_file: str = '', metainfo: Optional[dict | Config] = None,
                 data_root: str = '', data_prefix: Optional[dict] = None,
                 min_size: float = 12.0, indices: Optional[int | Sequence[int]] = None,
                 serialize_data: bool = True, pipeline: Sequence[dict | Callable] = (),
                 test_mode: bool = False, lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        data_prefix = dict(img='') if data_prefix is None else data_prefix
        if set(data_prefix) != {'img'}:
            raise ValueError(f"ObjectCropDataset takes data_prefix=dict(img='<image folder>/'), "
                             f'got {data_prefix}.')
        if min_size < 0:
            raise ValueError(f'ObjectCropDataset min_size must be >= 0 pixels, got {min_size}.')
        self.min_size = float(min_size)
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, indices=indices,
                         serialize_data=serialize_data, pipeline=list(pipeline),
                         test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    def load_data_list(self) -> list[dict]:
        """Read the file with :class:`CocoDataset` and flatten it (see the class docstring)."""
        if self.data_root:
            require_path(self.data_root, 'Dataset folder (data_root)', COCO_HINT)
        # ann_file and data_prefix are already joined with data_root here.
        images = CocoDataset(
            ann_file=self.ann_file, metainfo=dict(classes=self.metainfo['classes']),
            data_prefix=dict(img=self.data_prefix['img']), test_mode=True, serialize_data=False)
        return object_entries(images.data_list, self.min_size)

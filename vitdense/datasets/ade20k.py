"""ADE20K-layout semantic segmentation dataset (mmseg 1.x ``ADE20KDataset`` semantics)."""
import os
import os.path as osp
from typing import Callable, ClassVar, Optional, Sequence

from mmengine.config import Config

from vitdense.datasets.metainfo import CompletedMetainfo
from vitdense.datasets.paths import ADE20K_HINT, require_path
from vitdense.registry import DATASETS

# The 150 classes of SceneParse150 (ADEChallengeData2016), in the order of their label values in
# the files, 1..150 (0..149 after reduce_zero_label): mmseg's names, except that mmseg writes
# 'bed ' with a trailing space.
ADE20K_CLASSES = (
    'wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road', 'bed', 'windowpane', 'grass',
    'cabinet', 'sidewalk', 'person', 'earth', 'door', 'table', 'mountain', 'plant', 'curtain',
    'chair', 'car', 'water', 'painting', 'sofa', 'shelf', 'house', 'sea', 'mirror', 'rug', 'field',
    'armchair', 'seat', 'fence', 'desk', 'rock', 'wardrobe', 'lamp', 'bathtub', 'railing',
    'cushion', 'base', 'box', 'column', 'signboard', 'chest of drawers', 'counter', 'sand', 'sink',
    'skyscraper', 'fireplace', 'refrigerator', 'grandstand', 'path', 'stairs', 'runway', 'case',
    'pool table', 'pillow', 'screen door', 'stairway', 'river', 'bridge', 'bookcase', 'blind',
    'coffee table', 'toilet', 'flower', 'book', 'hill', 'bench', 'countertop', 'stove', 'palm',
    'kitchen island', 'computer', 'swivel chair', 'boat', 'bar', 'arcade machine', 'hovel', 'bus',
    'towel', 'light', 'truck', 'tower', 'chandelier', 'awning', 'streetlight', 'booth',
    'television receiver', 'airplane', 'dirt track', 'apparel', 'pole', 'land', 'bannister',
    'escalator', 'ottoman', 'bottle', 'buffet', 'poster', 'stage', 'van', 'ship', 'fountain',
    'conveyer belt', 'canopy', 'washer', 'plaything', 'swimming pool', 'stool', 'barrel', 'basket',
    'waterfall', 'tent', 'bag', 'minibike', 'cradle', 'oven', 'ball', 'food', 'step', 'tank',
    'trade name', 'microwave', 'pot', 'animal', 'bicycle', 'lake', 'dishwasher', 'screen',
    'blanket', 'sculpture', 'hood', 'sconce', 'vase', 'traffic light', 'tray', 'ashcan', 'fan',
    'pier', 'crt screen', 'plate', 'monitor', 'bulletin board', 'shower', 'radiator', 'glass',
    'clock', 'flag')
# RGB colour of each class, in class order: the ADE20K palette that mmseg's ADE20KDataset (1.x)
# ships and its visualisations use. Two classes share (140, 140, 140): road (6), skyscraper (48).
ADE20K_PALETTE = (
    (120, 120, 120), (180, 120, 120), (6, 230, 230), (80, 50, 50), (4, 200, 3), (120, 120, 80),
    (140, 140, 140), (204, 5, 255), (230, 230, 230), (4, 250, 7), (224, 5, 255), (235, 255, 7),
    (150, 5, 61), (120, 120, 70), (8, 255, 51), (255, 6, 82), (143, 255, 140), (204, 255, 4),
    (255, 51, 7), (204, 70, 3), (0, 102, 200), (61, 230, 250), (255, 6, 51), (11, 102, 255),
    (255, 7, 71), (255, 9, 224), (9, 7, 230), (220, 220, 220), (255, 9, 92), (112, 9, 255),
    (8, 255, 214), (7, 255, 224), (255, 184, 6), (10, 255, 71), (255, 41, 10), (7, 255, 255),
    (224, 255, 8), (102, 8, 255), (255, 61, 6), (255, 194, 7), (255, 122, 8), (0, 255, 20),
    (255, 8, 41), (255, 5, 153), (6, 51, 255), (235, 12, 255), (160, 150, 20), (0, 163, 255),
    (140, 140, 140), (250, 10, 15), (20, 255, 0), (31, 255, 0), (255, 31, 0), (255, 224, 0),
    (153, 255, 0), (0, 0, 255), (255, 71, 0), (0, 235, 255), (0, 173, 255), (31, 0, 255),
    (11, 200, 200), (255, 82, 0), (0, 255, 245), (0, 61, 255), (0, 255, 112), (0, 255, 133),
    (255, 0, 0), (255, 163, 0), (255, 102, 0), (194, 255, 0), (0, 143, 255), (51, 255, 0),
    (0, 82, 255), (0, 255, 41), (0, 255, 173), (10, 0, 255), (173, 255, 0), (0, 255, 153),
    (255, 92, 0), (255, 0, 255), (255, 0, 245), (255, 0, 102), (255, 173, 0), (255, 0, 20),
    (255, 184, 184), (0, 31, 255), (0, 255, 61), (0, 71, 255), (255, 0, 204), (0, 255, 194),
    (0, 255, 82), (0, 10, 255), (0, 112, 255), (51, 0, 255), (0, 194, 255), (0, 122, 255),
    (0, 255, 163), (255, 153, 0), (0, 255, 10), (255, 112, 0), (143, 255, 0), (82, 0, 255),
    (163, 255, 0), (255, 235, 0), (8, 184, 170), (133, 0, 255), (0, 255, 92), (184, 0, 255),
    (255, 0, 31), (0, 184, 255), (0, 214, 255), (255, 0, 112), (92, 255, 0), (0, 224, 255),
    (112, 224, 255), (70, 184, 160), (163, 0, 255), (153, 0, 255), (71, 255, 0), (255, 0, 163),
    (255, 204, 0), (255, 0, 143), (0, 255, 235), (133, 255, 0), (255, 0, 235), (245, 0, 255),
    (255, 0, 122), (255, 245, 0), (10, 190, 212), (214, 255, 0), (0, 204, 255), (20, 0, 255),
    (255, 255, 0), (0, 153, 255), (0, 41, 255), (0, 255, 204), (41, 0, 255), (41, 255, 0),
    (173, 0, 255), (0, 245, 255), (71, 0, 255), (122, 0, 255), (0, 255, 184), (0, 92, 255),
    (184, 255, 0), (0, 133, 255), (255, 214, 0), (25, 194, 194), (102, 255, 0), (92, 0, 255),
)


@DATASETS.register_module()
class ADE20KDataset(CompletedMetainfo):
    """Images and label PNGs in twin folders, as mmseg 1.x reads ADE20K.

    Each ``data_list`` entry has ``img_path``, ``seg_map_path`` (None without a label folder),
    ``reduce_zero_label``, ``num_classes`` (``len(metainfo['classes'])``, used by
    ``LoadAnnotations`` to validate label values) and ``seg_fields=[]``.

    Overriding ``metainfo=dict(classes=(...))`` sets the class names and count; label values on
    disk are used as they are (no label remapping).

    Args:
        ann_file: optional split file relative to ``data_root``, one image name (no suffix) per
            line; without it every ``img_suffix`` file under the image folder is used, sorted.
        metainfo: ``dict(classes=(...), palette=..., background_index=...)`` (default: the 150
            ADE20K classes, no background class). ``background_index`` is the label of a
            background class that is learned (with ``reduce_zero_label=False``; ShapesSegDataset
            sets 0); drawn predictions leave it transparent.
        data_root: dataset folder.
        data_prefix: ``dict(img_path='images/training', seg_map_path='annotations/training')``
            (relative to ``data_root``; leave out ``seg_map_path`` for unlabelled images).
        img_suffix: image file suffix.
        seg_map_suffix: label file suffix.
        reduce_zero_label: label 0 ("other") becomes 255 (ignored) and the rest shift down by
            one, as ADE20K needs; False where label 0 is a class to learn (shapes). None: the
            dataset class's ``REDUCE_ZERO_LABEL``.
        indices, serialize_data, pipeline, test_mode, lazy_init, max_refetch: as
            :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=ADE20K_CLASSES, palette=ADE20K_PALETTE)
    # The label convention of the dataset's files: True where label 0 is "other", ignored.
    REDUCE_ZERO_LABEL: ClassVar[bool] = True

    def __init__(self, ann_file: str = '', metainfo: Optional[dict | Config] = None,
                 data_root: str = '', data_prefix: Optional[dict] = None,
                 img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 reduce_zero_label: Optional[bool] = None,
                 indices: Optional[int | Sequence[int]] = None,
                 serialize_data: bool = True, pipeline: Sequence[dict | Callable] = (),
                 test_mode: bool = False, lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        if data_prefix is None:
            data_prefix = dict(img_path='images/training', seg_map_path='annotations/training')
        unknown = set(data_prefix) - {'img_path', 'seg_map_path'}
        if unknown or 'img_path' not in data_prefix:
            raise ValueError("ADE20KDataset takes data_prefix=dict(img_path='<image folder>', "
                             f"seg_map_path='<label folder>'), got {data_prefix}.")
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.reduce_zero_label = (self.REDUCE_ZERO_LABEL if reduce_zero_label is None
                                  else reduce_zero_label)
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, filter_cfg=None, indices=indices,
                         serialize_data=serialize_data, pipeline=list(pipeline),
                         test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    def load_data_list(self) -> list[dict]:
        """List the images (from ``ann_file`` or the image folder) and their label files."""
        if self.data_root:
            require_path(self.data_root, 'Dataset folder (data_root)', ADE20K_HINT)
        img_dir = self.data_prefix['img_path']
        seg_dir = self.data_prefix.get('seg_map_path')
        require_path(img_dir, 'Image folder (data_prefix.img_path)', ADE20K_HINT)
        if seg_dir:
            require_path(seg_dir, 'Label folder (data_prefix.seg_map_path)', ADE20K_HINT)
        if self.ann_file:
            require_path(self.ann_file, 'Split file (ann_file)', ADE20K_HINT)
            with open(self.ann_file) as f:
                names = [line.strip() for line in f if line.strip()]
        else:
            names = sorted(
                osp.relpath(osp.join(root, name), img_dir)[:-len(self.img_suffix)]
                for root, _, files in os.walk(img_dir) for name in files
                if name.endswith(self.img_suffix))
        if not names:
            raise ValueError(f"No '*{self.img_suffix}' images in '{img_dir}'"
                             + (f" (split file '{self.ann_file}' is empty)." if self.ann_file
                                else '; check data_prefix.img_path and img_suffix.'))
        num_classes = len(self.metainfo['classes'])
        return [dict(img_path=osp.join(img_dir, name + self.img_suffix),
                     seg_map_path=osp.join(seg_dir, name + self.seg_map_suffix) if seg_dir
                     else None,
                     reduce_zero_label=self.reduce_zero_label, num_classes=num_classes,
                     seg_fields=[])
                for name in names]

"""Loading transforms: decode the image, read boxes and the label map (mmdet/mmseg keys)."""
import os
from collections import OrderedDict
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from vitdense.registry import TRANSFORMS
from vitdense.transforms.loader_breadcrumbs import record

_PATH_HINT = ('Check data_root and data_prefix in the dataset config; the built-in dataset is '
              'generated with `python -m vitdense.datasets.shapes --out data/shapes`.')


def _check_backend_args(backend_args: Optional[dict], name: str) -> None:
    if backend_args is not None:
        raise ValueError(f'{name} reads local files only; backend_args={backend_args} is not '
                         'supported (leave it out or set it to None).')


def read_file(path: str, what: str) -> np.ndarray:
    """Bytes of a local file as a uint8 array; a missing file raises naming ``path``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} '{path}' does not exist. {_PATH_HINT}")
    with open(path, 'rb') as f:
        return np.frombuffer(f.read(), np.uint8)


def decode(path: str, what: str, flag: int) -> np.ndarray:
    """Decode an image file with OpenCV; an undecodable file raises ``ValueError`` naming it."""
    data = read_file(path, what)
    array = cv2.imdecode(data, flag) if data.size else None
    if array is None:
        raise ValueError(f"{what} '{path}' ({data.size} bytes) could not be decoded: it is empty, "
                         'truncated or not an image. Replace the file, or remove it from the '
                         'dataset.')
    return array


ON_ERROR = ('fail', 'skip')


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Read ``results['img_path']`` into ``img`` (H, W, 3) uint8 BGR.

    Grayscale images are expanded to 3 channels and an alpha channel is dropped; EXIF orientation
    is applied. Sets ``img_shape`` and ``ori_shape`` (h, w).

    A missing, empty, truncated or undecodable file raises an error naming it (``on_error=
    'fail'``). With ``on_error='skip'`` (training pipelines only) the transform returns None
    instead, so that mmengine's dataset draws another sample; the skipped paths, with the
    reason, ride along in the next sample this process loads (``results['skipped_files']``,
    copied into the data sample's metainfo by the Pack transforms), where
    :class:`vitdense.engine.SkippedFilesHook` counts them and summarises them each epoch.

    Args:
        to_float32: return a float32 image.
        on_error: 'fail' or 'skip'.
        cache_bytes: keep decoded images in this process, least recently used out first, up
            to this many bytes (0: no cache). For pipelines that read one file many times, as
            the object-crop pretraining does (one sample per object); each loader worker
            holds its own cache. The transform returns a copy, so later transforms may write
            to it.
        backend_args: only None (local files) is supported; kept for mmdet configs.
    """

    def __init__(self, to_float32: bool = False, on_error: str = 'fail',
                 cache_bytes: int = 0, backend_args: Optional[dict] = None) -> None:
        _check_backend_args(backend_args, 'LoadImageFromFile')
        if on_error not in ON_ERROR:
            raise ValueError(f'LoadImageFromFile on_error must be one of {ON_ERROR}, got '
                             f'{on_error!r}.')
        if cache_bytes < 0:
            raise ValueError(f'LoadImageFromFile cache_bytes must be >= 0, got {cache_bytes}.')
        self.to_float32 = to_float32
        self.on_error = on_error
        self.cache_bytes = int(cache_bytes)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cached_bytes = 0
        self._skipped: list[str] = []  # since the last image this process loaded

    def _decode(self, path: str) -> np.ndarray:
        if not self.cache_bytes:
            return decode(path, 'Image file', cv2.IMREAD_COLOR)
        img = self._cache.get(path)
        if img is not None:
            self._cache.move_to_end(path)
            return img.copy()
        img = decode(path, 'Image file', cv2.IMREAD_COLOR)
        if img.nbytes <= self.cache_bytes:
            self._cache[path] = img
            self._cached_bytes += img.nbytes
            while self._cached_bytes > self.cache_bytes:
                self._cached_bytes -= self._cache.popitem(last=False)[1].nbytes
            return img.copy()
        return img

    def transform(self, results: dict) -> dict | None:
        record(results['img_path'])  # named if this loader worker dies on it
        try:
            img = self._decode(results['img_path'])
        except (OSError, ValueError) as err:
            if self.on_error == 'fail':
                raise
            self._skipped.append(str(err))
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        if self._skipped:
            results['skipped_files'], self._skipped = self._skipped, []
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(to_float32={self.to_float32}, on_error={self.on_error!r}, '
                f'cache_bytes={self.cache_bytes})')


def reduce_zero_label(seg: np.ndarray) -> np.ndarray:
    """0 becomes 255 (ignore), other labels shift down by 1, 255 stays: (H, W) uint8."""
    out = seg.astype(np.int16) - 1
    out[(seg == 0) | (seg == 255)] = 255
    return out.astype(np.uint8)


def draw_instance_map(instances: list[dict], shape: tuple[int, int],
                      img_path: Optional[str] = None) -> np.ndarray:
    """(H, W) uint16 map of the instances' ``mask`` (COCO polygons or RLE): pixel value
    ``i + 1`` for instance ``i``, 0 where none. Larger masks are drawn first, so that an object
    inside another's hole (a ring's) keeps its pixels; masks of visible parts (COCO's, shapes')
    do not otherwise overlap. An instance without a mask covers no pixel."""
    if len(instances) >= np.iinfo(np.uint16).max:
        raise ValueError(f"Image '{img_path}' has {len(instances)} instances; an instance map "
                         'holds at most 65534.')
    height, width = shape
    masks = []
    for index, instance in enumerate(instances):
        segm = instance.get('mask')
        if not segm:
            continue
        if isinstance(segm, dict):  # RLE (crowd regions)
            mask = _decode_rle(segm, shape, img_path)
        else:
            mask = np.zeros(shape, np.uint8)
            polygons = [np.round(np.asarray(p, np.float64).reshape(-1, 2)).astype(np.int32)
                        for p in segm if len(p) >= 6]
            cv2.fillPoly(mask, polygons, 1)
        masks.append((int(mask.sum()), index, mask.astype(bool)))
    out = np.zeros((height, width), np.uint16)
    for _, index, mask in sorted(masks, key=lambda m: -m[0]):
        out[mask] = index + 1
    return out


def _decode_rle(segm: dict, shape: tuple[int, int], img_path: Optional[str]) -> np.ndarray:
    try:
        from pycocotools import mask as mask_utils
    except ImportError as err:
        raise ImportError(f"Image '{img_path}' has an RLE mask; drawing it needs pycocotools "
                          '(pip install pycocotools).') from err
    if isinstance(segm.get('counts'), list):  # uncompressed RLE
        segm = mask_utils.frPyObjects(segm, *shape)
    return mask_utils.decode(segm).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Read boxes and labels from ``results['instances']`` and the label map from a PNG.

    Boxes: ``gt_bboxes`` (N, 4) float32 xyxy, ``gt_bboxes_labels`` (N,) int64,
    ``gt_ignore_flags`` (N,) bool. Label map: ``gt_seg_map`` (H, W) uint8 from
    ``results['seg_map_path']``, reduced when ``results['reduce_zero_label']`` (0 -> 255,
    v -> v - 1, 255 stays), and checked against ``results['num_classes']`` when present.
    Instance map: ``gt_instance_map`` (H, W) uint16 drawn from the instances' ``mask``
    (:func:`draw_instance_map`; a label map to the geometric transforms), and
    ``gt_instance_ids`` (N,), each box's value in it (a per-box array: it follows the boxes
    that crops drop). What :class:`CopyPaste` cuts objects out with.

    Args:
        with_bbox: load ``gt_bboxes`` and ``gt_ignore_flags``.
        with_label: load ``gt_bboxes_labels``.
        with_seg: load ``gt_seg_map``.
        with_instance_map: load ``gt_instance_map`` and ``gt_instance_ids``.
        backend_args: only None (local files) is supported; kept for mmdet configs.
    """

    def __init__(self, with_bbox: bool = True, with_label: bool = True, with_seg: bool = False,
                 with_instance_map: bool = False, backend_args: Optional[dict] = None) -> None:
        _check_backend_args(backend_args, 'LoadAnnotations')
        self.with_bbox = with_bbox
        self.with_label = with_label
        self.with_seg = with_seg
        self.with_instance_map = with_instance_map

    def transform(self, results: dict) -> dict:
        instances = results.get('instances', []) if self.with_bbox or self.with_label else []
        if self.with_bbox:
            results['gt_bboxes'] = np.array([i['bbox'] for i in instances],
                                            np.float32).reshape(-1, 4)
            results['gt_ignore_flags'] = np.array([i['ignore_flag'] for i in instances], bool)
            results['gt_bboxes_scale_factor'] = (1.0, 1.0)  # resizes from here on scale them
        if self.with_label:
            results['gt_bboxes_labels'] = np.array([i['bbox_label'] for i in instances], np.int64)
        if self.with_seg:
            self._load_seg(results)
        if self.with_instance_map:
            instances = results.get('instances', [])
            shape = results['img'].shape[:2] if 'img' in results else \
                (results['height'], results['width'])
            results['gt_instance_map'] = draw_instance_map(instances, shape,
                                                           results.get('img_path'))
            results['gt_instance_ids'] = np.arange(1, len(instances) + 1, dtype=np.int64)
            results.setdefault('seg_fields', []).append('gt_instance_map')
        return results

    def _load_seg(self, results: dict) -> None:
        path = results['seg_map_path']
        if path is None:
            raise ValueError(f"Image '{results.get('img_path')}' has no label file; set "
                             'data_prefix.seg_map_path in the dataset config, or drop '
                             'with_seg=True for unlabelled images.')
        seg = decode(path, 'Label file', cv2.IMREAD_UNCHANGED)
        if seg.ndim != 2:
            raise ValueError(f"Label file '{path}' has {seg.shape[2]} channels; label maps must "
                             'be single-channel PNGs of class indices.')
        # ori_shape: the image as loaded (a test pipeline may resize it before this step)
        if 'ori_shape' in results and seg.shape != tuple(results['ori_shape']):
            h, w = results['ori_shape']
            raise ValueError(f"Label file '{path}' is {seg.shape[1]}x{seg.shape[0]} (w x h) but "
                             f"its image '{results.get('img_path')}' is {w}x{h}.")
        if seg.dtype != np.uint8 and seg.max() > 255:
            raise ValueError(f"Label file '{path}' holds values up to {int(seg.max())}; labels "
                             'must be 0..254 (255 = ignore).')
        reduce = bool(results.get('reduce_zero_label', False))
        num_classes = results.get('num_classes')
        if num_classes is not None:
            top = num_classes if reduce else num_classes - 1
            bad = (seg > top) & (seg != 255)
            if bad.any():
                values = np.unique(seg[bad]).tolist()
                raise ValueError(
                    f"Label file '{path}' has values {values[:20]} above {top}, but the dataset "
                    f'has {num_classes} classes (reduce_zero_label={reduce}: valid values are '
                    f'0..{top}, and 255 = ignore). Set metainfo=dict(classes=...) to the '
                    'classes of these labels, or fix the label files.')
        seg = seg.astype(np.uint8)
        results['gt_seg_map'] = reduce_zero_label(seg) if reduce else seg
        results.setdefault('seg_fields', []).append('gt_seg_map')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(with_bbox={self.with_bbox}, with_label={self.with_label}, '
                f'with_seg={self.with_seg}, with_instance_map={self.with_instance_map})')

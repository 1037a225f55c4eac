"""Copy-paste augmentation: objects cut out of another training image, pasted onto this one.

Ghiasi et al. 2021, "Simple Copy-Paste is a Strong Data Augmentation Method for Instance
Segmentation" (arXiv 2012.07177): more object views per forward pass for the same compute. The
source image comes either from :class:`~vitdense.datasets.MultiImageMixDataset` (mmdet's way:
each image's own pipeline runs, then this transform gets a second image as
``results['mix_results']``), or, with ``max_cached_images``, from a cache of the images this
transform saw last (mmdet's ``CachedMosaic`` way): one plain pipeline, no wrapper, so that the
dataset's keys stay where every other config has them.
"""
import numpy as np
from mmcv.transforms import BaseTransform

from vitdense.registry import TRANSFORMS
from vitdense.transforms.geometric import PER_BOX_KEYS, seg_keys

REQUIRED = ('img', 'gt_bboxes', 'gt_bboxes_labels', 'gt_instance_map', 'gt_instance_ids')
CACHED = REQUIRED + ('gt_ignore_flags', 'gt_seg_map')


@TRANSFORMS.register_module()
class CopyPaste(BaseTransform):
    """Paste a random subset of the source image's objects onto this image.

    The source is ``results['mix_results'][0]`` or a cached image, at the same stage of its
    pipeline (both need ``LoadAnnotations(with_instance_map=True)`` before). Its objects
    are pasted by their pixels in ``gt_instance_map`` (top-left aligned; what falls outside this
    image is cut off), with their class and a box around the pasted pixels. This image's objects
    keep their box; one left with less than ``min_visible`` of its pixels is dropped, as is a
    pasted one of fewer than ``min_pixels`` pixels. A label map (``gt_seg_map``) takes the
    source's labels where objects were pasted. Ignored (crowd) source objects are not pasted.

    Args:
        max_num_pasted: at most this many objects pasted (the number is drawn uniformly from
            1 to the smaller of this and the source's objects).
        min_visible: fraction of an object's pixels that must stay visible for it to keep its
            box (mmdet keeps one with 300 visible pixels or an unchanged box; shapes' objects are
            often smaller than that).
        min_pixels: smallest pasted object, in pixels.
        prob: probability of pasting at all.
        max_cached_images: 0: the source is ``results['mix_results'][0]``
            (MultiImageMixDataset). N > 0: a random one of the last N images this transform
            saw (each loader worker keeps its own cache; the first image has none to paste
            from); when the cache is full a random entry leaves it. The cache is not in the
            checkpoint: a resumed run starts it empty, so it is not bit-identical to an
            uninterrupted run (as mmdet's cached transforms).
    """

    def __init__(self, max_num_pasted: int = 100, min_visible: float = 0.3,
                 min_pixels: int = 4, prob: float = 1.0, max_cached_images: int = 0) -> None:
        if max_num_pasted < 1 or not 0 <= min_visible <= 1 or not 0 <= prob <= 1 or \
                max_cached_images < 0:
            raise ValueError(f'CopyPaste needs max_num_pasted >= 1, min_visible and prob in '
                             f'[0, 1], max_cached_images >= 0, got {max_num_pasted}, '
                             f'{min_visible}, {prob}, {max_cached_images}.')
        self.max_num_pasted = max_num_pasted
        self.min_visible = min_visible
        self.min_pixels = min_pixels
        self.prob = prob
        self.max_cached_images = max_cached_images
        self.cache: list[dict] = []

    @staticmethod
    def get_indexes(dataset) -> list[int]:
        """The source image, drawn at random (MultiImageMixDataset's protocol)."""
        return [np.random.randint(0, len(dataset))]

    def transform(self, results: dict) -> dict:
        if self.max_cached_images:
            src = self._from_cache(results)
            if src is None:
                return results
        else:
            mix = results.get('mix_results')
            if not mix:
                raise ValueError('CopyPaste needs a source image: wrap the dataset in '
                                 'MultiImageMixDataset with CopyPaste in its pipeline, or set '
                                 'max_cached_images to paste from the images seen last.')
            src = mix[0]
        for name, part in (('this image', results), ('the source image', src)):
            missing = [k for k in REQUIRED if k not in part]
            if missing:
                raise KeyError(f'CopyPaste: {name} lacks {missing}; load it with '
                               'LoadAnnotations(with_bbox=True, with_instance_map=True).')
        if np.random.rand() >= self.prob:
            return results
        chosen = self._choose(src)
        if not len(chosen):
            return results
        h, w = (min(a, b) for a, b in zip(results['img'].shape[:2], src['img'].shape[:2]))
        src_map = src['gt_instance_map'][:h, :w]
        masks = [(i, src_map == src['gt_instance_ids'][i]) for i in chosen]
        masks = [(i, m) for i, m in masks if m.sum() >= self.min_pixels]
        if not masks:
            return results
        keep, pasted = [i for i, _ in masks], [m for _, m in masks]
        union = np.zeros(results['img'].shape[:2], bool)
        union[:h, :w] = np.any(pasted, axis=0)
        self._occlude(results, union)
        self._paste(results, src, keep, pasted, union, (h, w))
        return results

    def _from_cache(self, results: dict) -> dict | None:
        """A random cached image (None while the cache is empty); this one joins the cache."""
        src = self.cache[np.random.randint(len(self.cache))] if self.cache else None
        self.cache.append({k: np.array(results[k]) for k in CACHED if k in results})
        if len(self.cache) > self.max_cached_images:
            self.cache.pop(np.random.randint(len(self.cache)))
        return src

    def _choose(self, src: dict) -> np.ndarray:
        candidates = np.flatnonzero(~src.get('gt_ignore_flags',
                                             np.zeros(len(src['gt_bboxes']), bool)))
        if not len(candidates):
            return candidates
        num = np.random.randint(1, min(len(candidates), self.max_num_pasted) + 1)
        return np.sort(np.random.choice(candidates, num, replace=False))

    def _occlude(self, results: dict, union: np.ndarray) -> None:
        """Drop this image's objects that the pasted pixels leave less than min_visible of."""
        ids, inst_map = results['gt_instance_ids'], results['gt_instance_map']
        counts = np.bincount(inst_map.ravel(), minlength=int(ids.max(initial=0)) + 1)
        hidden = np.bincount(inst_map[union], minlength=len(counts))
        area, covered = counts[ids], hidden[ids]
        # An object without pixels in the map (no mask, or gone in a resize) keeps its box.
        keep = (area == 0) | (area - covered >= self.min_visible * area)
        for key in PER_BOX_KEYS:
            if key in results:
                results[key] = results[key][keep]

    def _paste(self, results: dict, src: dict, keep: list[int], pasted: list[np.ndarray],
               union: np.ndarray, size: tuple[int, int]) -> None:
        h, w = size
        results['img'] = results['img'].copy()
        results['img'][union] = src['img'][:h, :w][union[:h, :w]]
        first_id = 1 + int(max(results['gt_instance_map'].max(),
                               results['gt_instance_ids'].max(initial=0)))
        new_ids = np.arange(first_id, first_id + len(keep), dtype=np.int64)
        if new_ids[-1] > np.iinfo(np.uint16).max:
            raise ValueError(f'CopyPaste: instance ids past {np.iinfo(np.uint16).max}.')
        inst_map = results['gt_instance_map'].copy()
        for new_id, mask in zip(new_ids, pasted):
            inst_map[:h, :w][mask] = new_id
        results['gt_instance_map'] = inst_map
        for key in seg_keys(results):
            if key != 'gt_instance_map' and key in src:
                results[key] = results[key].copy()
                results[key][union] = src[key][:h, :w][union[:h, :w]]
        boxes = np.array([_mask_box(m) for m in pasted], np.float32).reshape(-1, 4)
        results['gt_bboxes'] = np.concatenate([results['gt_bboxes'], boxes])
        results['gt_instance_ids'] = np.concatenate([results['gt_instance_ids'], new_ids])
        for key in ('gt_bboxes_labels', 'gt_ignore_flags'):
            if key in results:
                values = src[key][keep] if key in src else np.zeros(len(keep), bool)
                results[key] = np.concatenate([results[key], values.astype(results[key].dtype)])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(max_num_pasted={self.max_num_pasted}, '
                f'min_visible={self.min_visible}, min_pixels={self.min_pixels}, '
                f'prob={self.prob}, max_cached_images={self.max_cached_images})')


def _mask_box(mask: np.ndarray) -> list[float]:
    """The xyxy pixel box around a mask's pixels (x2, y2 exclusive, as boxes in pixels are)."""
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]

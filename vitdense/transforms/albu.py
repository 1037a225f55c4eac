"""Adapter running an albumentations pipeline on the image, its boxes and its label map.

Importing this module sets ``NO_ALBUMENTATIONS_UPDATE=1`` unless already set: albumentations
otherwise asks PyPI for a newer version on import, which stalls on machines without internet.
"""
import difflib
import os
import warnings
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from vitdense.registry import TRANSFORMS
from vitdense.transforms.geometric import PER_BOX_KEYS

os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
_NOT_LOADED = object()
# Imported when an Albu transform is first built, not with the package: the import takes ~0.5 s
# of every tool's start-up. None where it is not installed (Albu raises when built).
albumentations = _NOT_LOADED
ALBUMENTATIONS_ERROR: Optional[ImportError] = None


def _albumentations():
    """The albumentations module, imported on first use; None where it is not installed."""
    global albumentations, ALBUMENTATIONS_ERROR
    if albumentations is _NOT_LOADED:
        try:
            import albumentations as module
        except ImportError as err:
            module, ALBUMENTATIONS_ERROR = None, err
        albumentations = module
    return albumentations

TARGETS = ('image', 'mask', 'bboxes')
PER_BOX_LABELS = PER_BOX_KEYS[1:]  # the per-box arrays that follow the boxes
_INDEX_FIELD = 'box_index'  # carries each box's row through albumentations


def build_albu_transform(cfg: dict) -> 'albumentations.BasicTransform':
    """Build ``albumentations.<cfg['type']>(**rest)``; nested ``transforms`` lists are built too."""
    args = dict(cfg)
    name = args.pop('type', None)
    module = _albumentations()
    cls = getattr(module, str(name), None)
    if not isinstance(cls, type):
        names = [n for n in dir(module) if isinstance(getattr(module, n), type)]
        close = difflib.get_close_matches(str(name), names, n=3)
        raise ValueError(f'{name!r} is not an albumentations transform'
                         + (f"; did you mean {', '.join(close)}?" if close else '.'))
    if 'transforms' in args:
        args['transforms'] = [build_albu_transform(t) for t in args['transforms']]
    return cls(**args)


@TRANSFORMS.register_module()
class Albu(BaseTransform):
    """Apply albumentations transforms named in the config, keeping boxes and label map aligned.

    Boxes go through as pascal_voc (xyxy pixels); every per-box array (``gt_bboxes_labels``,
    ``gt_ignore_flags``) follows its box, whatever albumentations drops or reorders. Boxes
    without area are dropped before the call (albumentations rejects them). The label map goes
    through as ``mask``: give geometric transforms ``fill_mask=255`` so that new pixels are
    ignored rather than labelled 0. ``scale_factor`` is not updated: resize with
    :class:`Resize` / :class:`RandomResize` when predictions must map back to the original image.

    Args:
        transforms: e.g. ``[dict(type='HorizontalFlip', p=0.5), dict(type='ColorJitter')]``.
        bbox_params: ``albumentations.BboxParams`` arguments (``min_visibility``, ``min_area``,
            ``clip`` (default True), ...); ``type`` may be 'BboxParams', ``format`` must be
            'pascal_voc', ``label_fields`` may only name the per-box keys (they are always
            carried), for mmdet configs.
        keymap: results key -> albumentations target ('image', 'mask', 'bboxes'); default
            ``dict(img='image', gt_seg_map='mask', gt_bboxes='bboxes')``.
    """

    def __init__(self, transforms: Sequence[dict], bbox_params: Optional[dict] = None,
                 keymap: Optional[dict] = None) -> None:
        if _albumentations() is None:
            raise ImportError('Albu needs albumentations: pip install albumentations '
                              f'(import failed: {ALBUMENTATIONS_ERROR}).')
        self.keymap = dict(img='image', gt_seg_map='mask', gt_bboxes='bboxes') \
            if keymap is None else dict(keymap)
        targets = list(self.keymap.values())
        if self.keymap.get('img') != 'image' or any(t not in TARGETS for t in targets) or \
                len(set(targets)) != len(targets):
            raise ValueError(f"Albu keymap must map 'img' to 'image' and other keys to distinct "
                             f'targets among {TARGETS}, got {self.keymap}.')
        params = dict(bbox_params or {})
        if params.pop('type', 'BboxParams') != 'BboxParams' or \
                params.pop('format', 'pascal_voc') != 'pascal_voc':
            raise ValueError(f"Albu bbox_params must be type='BboxParams', format='pascal_voc' "
                             f'(boxes are xyxy pixels), got {bbox_params}.')
        extra = set(params.pop('label_fields', ())) - set(PER_BOX_LABELS)
        if extra:
            raise ValueError(f'Albu carries {PER_BOX_LABELS} with the boxes; label_fields '
                             f'{sorted(extra)} are not per-box keys it knows.')
        params.setdefault('clip', True)
        self.transforms = list(transforms)
        with warnings.catch_warnings():  # boxes are always declared, even for colour-only lists
            warnings.filterwarnings('ignore', message='Got processor for bboxes')
            self.aug = albumentations.Compose(
                [build_albu_transform(t) for t in self.transforms],
                bbox_params=albumentations.BboxParams(format='pascal_voc',
                                                      label_fields=[_INDEX_FIELD], **params))

    def transform(self, results: dict) -> dict:
        data = {target: results[key] for key, target in self.keymap.items()
                if key in results and target != 'bboxes'}
        box_key = next((k for k, t in self.keymap.items() if t == 'bboxes'), None)
        boxes = results.get(box_key, np.zeros((0, 4), np.float32)).reshape(-1, 4)
        valid = np.flatnonzero((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
        out = self.aug(**data, bboxes=boxes[valid], **{_INDEX_FIELD: valid})
        for key, target in self.keymap.items():
            if key in results and target != 'bboxes':
                results[key] = out[target]
        if box_key in results:
            # albumentations may hand labels back as floats: restore the integer rows.
            rows = np.asarray(out[_INDEX_FIELD], dtype=np.int64)
            results[box_key] = np.asarray(out['bboxes'], np.float32).reshape(-1, 4)
            for key in PER_BOX_LABELS:
                if key in results:
                    results[key] = results[key][rows]
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.transforms})'

"""COCO box evaluation behind one interface, on faster-coco-eval (default) or pycocotools.

faster-coco-eval runs the per-image matching and the accumulation in C++ and gives the same
statistics, with one known last-bit difference: pycocotools computes precision as
``tp / (tp + fp + eps)`` and faster-coco-eval as ``tp / (tp + fp)``, so a class whose top-ranked
detection is a true positive followed by a false positive gets 1 - 2**-52 instead of 1.0 there,
which can move a statistic by ~1e-16 (far below the 3 decimals reported). Everything here takes
plain numpy arrays, so :class:`CocoMetric` and ``tools/analysis/bench_eval.py`` share one code
path and differ only in ``backend``.
"""
import contextlib
import gc
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import faster_coco_eval
import numpy as np
import pycocotools.coco
import pycocotools.cocoeval

COCO_BACKENDS = ('faster_coco_eval', 'pycocotools')
# Names of COCOeval.stats, in order, as mmdet logs them (``bbox_`` + name).
COCO_STAT_NAMES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l',
                   'AR@1', 'AR@10', 'AR@100', 'AR_s@100', 'AR_m@100', 'AR_l@100')

CocoApi = faster_coco_eval.COCO | pycocotools.coco.COCO


@dataclass
class BoxEvaluation:
    """What one COCO box evaluation produced.

    Attributes:
        stats: (12,) the COCO summary statistics (AP, AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l).
        precision: (T, R, K, A, M) precision per IoU threshold, recall threshold, category (in
            ascending category-id order), area range and maxDets; -1 where undefined.
        summary: the 12-line COCO summary as COCOeval prints it.
    """

    stats: np.ndarray
    precision: np.ndarray
    summary: str


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is a known COCO backend, else raise naming the choices."""
    if backend not in COCO_BACKENDS:
        raise ValueError(f"Unknown COCO evaluation backend '{backend}'; use one of "
                         f'{COCO_BACKENDS} (faster_coco_eval is the fast default).')
    return backend


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector inside the block.

    COCO evaluation builds millions of small acyclic dicts and lists (5000 images x 100
    detections: about 4x faster to build this way); each allocation burst would otherwise start
    full collections over the whole, growing heap. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_coco(source: str | dict, backend: str) -> CocoApi:
    """Build the backend's ``COCO`` object, quietly, from a json file path or a dataset dict.

    Args:
        source: path of a COCO json file, or a dict with ``images``, ``categories`` and
            (optionally) ``annotations``. A dict is used as is, not copied.
        backend: one of :data:`COCO_BACKENDS`.
    """
    check_backend(backend)
    if isinstance(source, str) and not os.path.isfile(source):
        raise FileNotFoundError(f"COCO annotation file '{source}' does not exist; check ann_file "
                                f'(mmdet layout: data/coco/annotations/instances_val2017.json).')
    cls = faster_coco_eval.COCO if backend == 'faster_coco_eval' else pycocotools.coco.COCO
    with contextlib.redirect_stdout(io.StringIO()), paused_gc():
        if isinstance(source, str):
            return cls(source)
        coco = cls()
        coco.dataset = source
        coco.createIndex()
    return coco


def xyxy_to_xywh(bboxes: np.ndarray) -> np.ndarray:
    """(N, 4) ``x1, y1, x2, y2`` -> (N, 4) float64 ``x, y, w, h`` (COCO boxes, no +1)."""
    boxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)  # (N, 4)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)  # (N, 4)


def detection_annotations(image_ids: np.ndarray, bboxes: np.ndarray, scores: np.ndarray,
                          category_ids: np.ndarray, eval_fields: bool) -> list[dict[str, Any]]:
    """Detections as COCO result dicts, built from whole arrays (no per-box numpy work).

    Args:
        image_ids: (N,) image id of each detection.
        bboxes: (N, 4) xyxy boxes in original image pixels.
        scores: (N,) confidences.
        category_ids: (N,) COCO category ids.
        eval_fields: also add ``area``, ``id`` (1-based) and ``iscrowd`` = 0, which is what
            ``loadRes`` adds before evaluation; without them the dicts are the results-file format
            (``image_id``, ``bbox``, ``score``, ``category_id``).
    """
    xywh = xyxy_to_xywh(bboxes)  # (N, 4)
    columns = (np.asarray(image_ids, dtype=np.int64).tolist(), xywh.tolist(),
               np.asarray(scores, dtype=np.float64).tolist(),
               np.asarray(category_ids, dtype=np.int64).tolist())
    if not eval_fields:
        return [{'image_id': i, 'bbox': b, 'score': s, 'category_id': c}
                for i, b, s, c in zip(*columns)]
    areas = (xywh[:, 2] * xywh[:, 3]).tolist()
    return [{'image_id': i, 'bbox': b, 'score': s, 'category_id': c, 'area': a, 'id': k,
             'iscrowd': 0}
            for k, (i, b, s, c, a) in enumerate(zip(*columns, areas), start=1)]


def results_coco(gt: CocoApi, annotations: list[dict[str, Any]], backend: str) -> CocoApi:
    """The detections as a ``COCO`` object over ``gt``'s images and categories.

    Equivalent to ``gt.loadRes(annotations)`` for boxes given ``eval_fields=True`` annotations,
    without the polygon ``loadRes`` attaches to every box and without pycocotools' crash on an
    empty result list.
    """
    dataset = {'images': gt.dataset['images'], 'categories': gt.dataset['categories'],
               'annotations': annotations}
    return load_coco(dataset, backend)


def evaluate_boxes(gt: CocoApi, dt: CocoApi, img_ids: list[int], cat_ids: list[int],
                   backend: str) -> BoxEvaluation:
    """Run COCOeval (iouType ``bbox``, maxDets 1/10/100) on the given images and categories.

    Args:
        gt: ground truth from :func:`load_coco` with the same ``backend``.
        dt: detections from :func:`results_coco` with the same ``backend``.
        img_ids: images to evaluate.
        cat_ids: categories to evaluate.
        backend: one of :data:`COCO_BACKENDS`.
    """
    check_backend(backend)
    quiet = io.StringIO()
    if backend == 'faster_coco_eval':
        lines: list[str] = []
        coco_eval = faster_coco_eval.COCOeval_faster(gt, dt, 'bbox', print_function=quiet.write)
        coco_eval.params.imgIds = list(img_ids)
        coco_eval.params.catIds = list(cat_ids)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.print_function = lines.append
        coco_eval.summarize()
        summary = '\n'.join(lines[:len(COCO_STAT_NAMES)])  # it also prints AR@.5 and AR@.75
    else:
        coco_eval = pycocotools.cocoeval.COCOeval(gt, dt, 'bbox')
        coco_eval.params.imgIds = list(img_ids)
        coco_eval.params.catIds = list(cat_ids)
        with contextlib.redirect_stdout(quiet):
            coco_eval.evaluate()
            coco_eval.accumulate()
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            coco_eval.summarize()
        summary = printed.getvalue().rstrip('\n')
    stats = np.asarray(coco_eval.stats[:len(COCO_STAT_NAMES)], dtype=np.float64)
    return BoxEvaluation(stats, np.asarray(coco_eval.eval['precision']), summary)

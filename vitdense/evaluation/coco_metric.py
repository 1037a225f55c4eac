"""COCO box mAP, with mmdet 3.x's ``CocoMetric`` arguments and metric names."""
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from vitdense.evaluation.coco_backend import (
    COCO_STAT_NAMES,
    BoxEvaluation,
    CocoApi,
    check_backend,
    detection_annotations,
    evaluate_boxes,
    load_coco,
    paused_gc,
    results_coco,
    xyxy_to_xywh,
)
from vitdense.evaluation.table import format_table
from vitdense.registry import METRICS

# Per-class table columns: (name, IoU threshold index or None for all, area range index).
_CLASSWISE_COLUMNS = (('mAP', None, 0), ('mAP_50', 0, 0), ('mAP_75', 5, 0),
                      ('mAP_s', None, 1), ('mAP_m', None, 2), ('mAP_l', None, 3))


def _to_numpy(value: Any, dtype: type, width: int = 0) -> np.ndarray:
    """A tensor / array / list as a numpy array of ``dtype``; (0, width) or (0,) when empty."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value, dtype=dtype)
    return array.reshape(-1, width) if width else array.reshape(-1)


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO box AP/AR (``coco/bbox_mAP``, ``coco/bbox_mAP_50`` ...) as mmdet 3.x reports it.

    Ground truth comes from ``ann_file`` or, without one, from each data sample: its
    ``gt_instances.bboxes`` (xyxy) are divided by the factor they were resized by,
    ``gt_bboxes_scale_factor`` (w, h), which ``LoadAnnotations`` and ``Resize`` keep (boxes loaded
    after the image's Resize, as in mmdet's test pipelines, were not resized), else by the
    sample's ``scale_factor`` (a missing one means no resize), to return to original pixels;
    ``ignored_instances`` become crowd boxes, and box area is ``w * h``. Predicted label ``k`` is
    category id ``k`` then; with ``ann_file`` it is the file's category whose name
    is ``dataset_meta['classes'][k]``. The images evaluated are the ones processed.

    Args:
        ann_file: COCO json with the ground truth (or only images and categories, with
            ``format_only``).
        metric: ``'bbox'`` (or a list of it); nothing else is supported.
        classwise: also log a per-class AP table and return ``{class}_precision`` (the class's
            AP@[.5:.95]) per class, as mmdet.
        format_only: only write ``<outfile_prefix>.bbox.json`` (COCO results format, e.g. for
            the test-dev server) and return ``{}``.
        outfile_prefix: where to write the results json; required with ``format_only``.
        backend: ``'faster_coco_eval'`` (default) or ``'pycocotools'``; the same numbers (to
            ~1e-16, see :mod:`vitdense.evaluation.coco_backend`).
        collect_device: ``'cpu'`` or ``'gpu'``, for gathering results across ranks.
        prefix: metric-name prefix; ``None`` gives ``'coco'``.
    """

    default_prefix = 'coco'

    def __init__(self,
                 ann_file: str | None = None,
                 metric: str | Sequence[str] = 'bbox',
                 classwise: bool = False,
                 format_only: bool = False,
                 outfile_prefix: str | None = None,
                 backend: str = 'faster_coco_eval',
                 collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        metrics = [metric] if isinstance(metric, str) else list(metric)
        for name in metrics:
            if name != 'bbox':
                raise ValueError(f"CocoMetric: metric '{name}' is not supported; only 'bbox' "
                                 f"is (set metric='bbox').")
        if format_only and outfile_prefix is None:
            raise ValueError('CocoMetric: format_only=True writes <outfile_prefix>.bbox.json, so '
                             "outfile_prefix must be set (e.g. './work_dirs/test').")
        self.backend = check_backend(backend)
        self.ann_file = ann_file
        self.classwise = classwise
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self._coco_gt = load_coco(ann_file, backend) if ann_file is not None else None
        # The latest evaluation (raw 12 stats, precision curves, summary), for tools and tests.
        self.last_evaluation: BoxEvaluation | None = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store each sample's predictions (and ground truth when there is no ``ann_file``).

        Args:
            data_batch: unused.
            data_samples: dicts with ``img_id``, ``ori_shape``, ``pred_instances`` (``bboxes``
                (N, 4) xyxy in original pixels, ``scores`` (N,), ``labels`` (N,)) and, without
                ``ann_file``, ``gt_instances``, ``ignored_instances`` and ``scale_factor``.
        """
        for sample in data_samples:
            pred = sample['pred_instances']
            result = {'img_id': int(sample['img_id']),
                      'bboxes': _to_numpy(pred['bboxes'], np.float32, 4),
                      'scores': _to_numpy(pred['scores'], np.float32),
                      'labels': _to_numpy(pred['labels'], np.int64)}
            if self._coco_gt is None:
                result['gt'] = self._ground_truth(sample)
            self.results.append(result)

    @staticmethod
    def _ground_truth(sample: dict) -> dict[str, Any]:
        """One sample's ground truth in original image pixels (see the class docstring)."""
        height, width = (int(v) for v in sample['ori_shape'][:2])
        if 'scale_factor' not in sample and tuple(sample.get('img_shape', (height, width))[:2]
                                                  ) != (height, width):
            raise ValueError(f"CocoMetric: image {sample['img_id']} was resized (img_shape "
                             f"{tuple(sample['img_shape'][:2])}, ori_shape {(height, width)}) "
                             f'but has no scale_factor to map its ground truth back; keep '
                             f"'scale_factor' in the packing transform's meta_keys or pass "
                             f'ann_file.')
        scale = sample.get('gt_bboxes_scale_factor')  # boxes loaded after a Resize: not that
        if scale is None:
            scale = sample.get('scale_factor', 1.0)
        scale = np.asarray(scale, dtype=np.float64)
        scale = np.tile(np.resize(scale.reshape(-1), 2), 2)  # (4,) w, h, w, h
        gt = sample.get('gt_instances', {})
        ignored = sample.get('ignored_instances', {})
        boxes = [_to_numpy(gt.get('bboxes', ()), np.float64, 4) / scale,
                 _to_numpy(ignored.get('bboxes', ()), np.float64, 4) / scale]
        labels = [_to_numpy(gt.get('labels', ()), np.int64),
                  _to_numpy(ignored.get('labels', ()), np.int64)]
        return {'width': width, 'height': height, 'bboxes': np.concatenate(boxes),
                'labels': np.concatenate(labels),
                'iscrowd': np.repeat([0, 1], [len(labels[0]), len(labels[1])])}

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        """COCO box metrics over all processed images.

        Returns:
            ``bbox_mAP``, ``bbox_mAP_50``, ``bbox_mAP_75``, ``bbox_mAP_s|m|l`` rounded to 3
            decimals (plus ``{class}_precision`` with ``classwise``); ``{}`` with
            ``format_only``.
        """
        with paused_gc():
            return self._compute_metrics(results)

    def _compute_metrics(self, results: list[dict]) -> dict[str, float]:
        classes = self._classes()
        gt = self._coco_gt
        if gt is None:
            gt = load_coco(self._gt_dataset(results, classes), self.backend)
        cat_ids = self._category_ids(gt, classes)
        img_ids = [r['img_id'] for r in results]
        self._check_images(gt, img_ids)

        counts = [len(r['scores']) for r in results]
        labels = np.concatenate([r['labels'] for r in results] or [np.zeros(0, np.int64)])
        bad = labels[(labels < 0) | (labels >= len(classes))]
        if bad.size:
            raise ValueError(f'CocoMetric: predicted label {int(bad[0])} is outside 0..'
                             f'{len(classes) - 1} (dataset_meta has {len(classes)} classes); '
                             f'check the head num_classes against the dataset.')
        columns = (np.repeat(np.asarray(img_ids, dtype=np.int64), counts),
                   np.concatenate([r['bboxes'] for r in results] or [np.zeros((0, 4))]),
                   np.concatenate([r['scores'] for r in results] or [np.zeros(0)]),
                   np.asarray(cat_ids, dtype=np.int64)[labels])
        if self.outfile_prefix is not None:
            self._write_results(detection_annotations(*columns, eval_fields=False))
        if self.format_only:
            return {}

        dt = results_coco(gt, detection_annotations(*columns, eval_fields=True), self.backend)
        evaluation = evaluate_boxes(gt, dt, img_ids, cat_ids, self.backend)
        self.last_evaluation = evaluation
        print_log(f'Evaluating bbox ({self.backend}) on {len(set(img_ids))} images:\n'
                  f'{evaluation.summary}', logger='current')
        metrics = {f'bbox_{name}': float(f'{evaluation.stats[i]:.3f}')
                   for i, name in enumerate(COCO_STAT_NAMES[:6])}
        if self.classwise:
            metrics.update(self._classwise(evaluation.precision, classes, cat_ids))
        print_log('bbox_mAP_copypaste: ' + ' '.join(
            f'{v:.3f}' for v in evaluation.stats[:6]), logger='current')
        return metrics

    def _classes(self) -> tuple[str, ...]:
        meta = self.dataset_meta or {}
        if 'classes' not in meta:
            raise ValueError("CocoMetric needs dataset_meta['classes'] (class names in label "
                             'order); the Runner sets it from the dataset metainfo, or set '
                             'metric.dataset_meta = dict(classes=(...)) yourself.')
        return tuple(meta['classes'])

    @staticmethod
    def _gt_dataset(results: list[dict], classes: tuple[str, ...]) -> dict[str, Any]:
        """A COCO dataset dict from the ground truth stored by :meth:`process`."""
        images, annotations = [], []
        for r in results:
            gt = r['gt']
            images.append({'id': r['img_id'], 'width': gt['width'], 'height': gt['height']})
            xywh = xyxy_to_xywh(gt['bboxes'])  # (M, 4)
            for box, label, crowd in zip(xywh.tolist(), gt['labels'].tolist(),
                                         gt['iscrowd'].tolist()):
                annotations.append({'id': len(annotations) + 1, 'image_id': r['img_id'],
                                    'category_id': label, 'bbox': box,
                                    'area': box[2] * box[3], 'iscrowd': crowd})
        categories = [{'id': i, 'name': name} for i, name in enumerate(classes)]
        return {'images': images, 'annotations': annotations, 'categories': categories}

    def _category_ids(self, gt: CocoApi, classes: tuple[str, ...]) -> list[int]:
        """The COCO category id of each label, matched by class name."""
        if self._coco_gt is None:
            return list(range(len(classes)))
        name_to_id: dict[str, int] = {}
        for cat in gt.dataset.get('categories', []):
            if cat['name'] in name_to_id:
                raise ValueError(f"CocoMetric: category name '{cat['name']}' appears twice in "
                                 f"'{self.ann_file}'; category names must be unique.")
            name_to_id[cat['name']] = cat['id']
        missing = [name for name in classes if name not in name_to_id]
        if missing:
            raise ValueError(f"CocoMetric: class '{missing[0]}' (of dataset_meta['classes']) is "
                             f"not a category of '{self.ann_file}' (it has "
                             f'{sorted(name_to_id)[:10]}...); use the class names of the '
                             f'annotation file.')
        return [name_to_id[name] for name in classes]

    def _check_images(self, gt: CocoApi, img_ids: list[int]) -> None:
        missing = [i for i in img_ids if i not in gt.imgs]
        if missing:
            raise ValueError(f'CocoMetric: {len(missing)} processed image ids (first: '
                             f"{missing[0]}) are not in '{self.ann_file}'; the dataset and "
                             f'ann_file must describe the same images.')

    def _write_results(self, annotations: list[dict[str, Any]]) -> None:
        path = f'{self.outfile_prefix}.bbox.json'
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(annotations, f)
        print_log(f'CocoMetric: wrote {len(annotations)} detections to {path}',
                  logger='current')

    def _classwise(self, precision: np.ndarray, classes: tuple[str, ...],
                   cat_ids: list[int]) -> dict[str, float]:
        """Log the per-class AP table; return ``{class}_precision`` (AP@[.5:.95])."""
        column_of = {cat_id: k for k, cat_id in enumerate(sorted(cat_ids))}  # COCOeval sorts ids
        rows, metrics = [], {}
        for name, cat_id in zip(classes, cat_ids):
            row = [name]
            for column, iou, area in _CLASSWISE_COLUMNS:
                p = precision[:, :, column_of[cat_id], area, -1]  # (T, R) at maxDets=100
                p = p[iou] if iou is not None else p
                ap = float(np.mean(p[p > -1])) if (p > -1).any() else float('nan')
                row.append(f'{ap:.3f}')
                if column == 'mAP':
                    metrics[f'{name}_precision'] = float(f'{ap:.3f}')
            rows.append(row)
        headers = ['category'] + [c[0] for c in _CLASSWISE_COLUMNS]
        print_log('Per-class bbox AP:\n' + format_table(headers, rows), logger='current')
        return metrics

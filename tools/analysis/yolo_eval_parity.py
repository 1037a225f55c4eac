"""Evaluate the same predictions through the YOLO path and the COCO path; print both.

``python tools/analysis/yolo_eval_parity.py [--ann-file data/shapes/annotations/instances_val.json
--img-dir data/shapes/val]``

The COCO split is written as YOLO files (``coco_to_yolo``) into a temporary folder. The YOLO path
is the YOLO demo config's val dataset and test pipeline (``YoloDataset``) into its
``CocoMetric`` (no ``ann_file``: ground truth from the samples); the COCO path is ``CocoDataset``
+ ``CocoMetric(ann_file=...)`` on the same boxes (the json without crowd boxes, which YOLO cannot
hold, and with box areas, as YOLO has no masks). Predictions: the ground truth itself (every
stat must be 1.0), then a perturbed copy (boxes dropped, jittered, relabelled, false
positives). The 12 COCO stats of both paths are printed with their difference.

The size buckets (``_s``, ``_m``, ``_l``) may differ: a box whose area is exactly 32**2 or 96**2
px belongs to both adjacent buckets in COCOeval, and the YOLO round trip (6-decimal fractions,
float32 resize and back) moves its area a hair to one side. ``--match-areas`` gives the COCO path
the YOLO path's areas, which makes all 12 stats identical.
"""
import argparse
import json
import os
import tempfile

import numpy as np
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from vitdense.datasets import CocoDataset, YoloDataset
from vitdense.datasets.coco_to_yolo import coco_to_yolo
from vitdense.evaluation import CocoMetric
from vitdense.evaluation.coco_backend import COCO_STAT_NAMES
from vitdense.registry import DATASETS
from vitdense.utils import register_all_modules

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'configs/fcos/fcos_vit-t-hybrid_1xb4-demo_yolo.py')

Predictions = dict[str, dict[str, np.ndarray]]  # image file name -> bboxes, scores, labels


def boxes_only_coco(ann_file: str, out_file: str) -> None:
    """``ann_file`` without crowd boxes and with ``area = w * h``, written to ``out_file``."""
    with open(ann_file) as f:
        coco = json.load(f)
    coco['annotations'] = [dict(a, area=a['bbox'][2] * a['bbox'][3])
                           for a in coco['annotations'] if not a.get('iscrowd', 0)]
    with open(out_file, 'w') as f:
        json.dump(coco, f)


def make_predictions(coco: CocoDataset, perturb: bool, seed: int = 0) -> Predictions:
    """The non-crowd ground truth as predictions (score 1), or with ``perturb``: 15 % of the
    boxes dropped, the rest jittered (~8 % of their size) with random scores and 10 % wrong
    labels, and one or two random false positives per image."""
    rng = np.random.default_rng(seed)
    num_classes = len(coco.metainfo['classes'])
    preds = {}
    for i in range(len(coco)):
        info = coco.get_data_info(i)
        kept = [inst for inst in info['instances'] if not inst['ignore_flag']]
        boxes = np.asarray([inst['bbox'] for inst in kept], np.float64).reshape(-1, 4)
        labels = np.asarray([inst['bbox_label'] for inst in kept], np.int64)
        scores = np.ones(len(labels))
        if perturb:
            keep = rng.random(len(labels)) < 0.85
            boxes, labels = boxes[keep], labels[keep]
            size = np.tile(boxes[:, 2:] - boxes[:, :2], 2)  # (N, 4) w, h, w, h
            boxes = boxes + rng.normal(0, 0.08, boxes.shape) * size
            wrong = rng.random(len(labels)) < 0.1
            labels = np.where(wrong, rng.integers(0, num_classes, len(labels)), labels)
            num_fp = int(rng.integers(1, 3))
            xy = rng.random((num_fp, 2)) * [info['width'] - 40, info['height'] - 40]  # (F, 2)
            fp = np.concatenate([xy, xy + 10 + 30 * rng.random((num_fp, 2))], axis=1)  # (F, 4)
            boxes = np.concatenate([boxes, fp])
            labels = np.concatenate([labels, rng.integers(0, num_classes, num_fp)])
            scores = rng.random(len(labels))
        preds[os.path.basename(info['img_path'])] = dict(
            bboxes=boxes.astype(np.float32), scores=scores.astype(np.float32), labels=labels)
    return preds


def yolo_val_dataset(yolo_root: str) -> tuple[Config, YoloDataset]:
    """The YOLO demo config and its val dataset (test pipeline) on ``yolo_root``."""
    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('vitdense'):
        return cfg, DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=yolo_root))


def match_areas(ann_file: str, yolo_root: str) -> None:
    """Rewrite the areas of ``ann_file`` (a :func:`boxes_only_coco` file, same boxes in the same
    order) as the areas CocoMetric computes on the YOLO path: ``w * h`` of each sample's
    ``gt_instances`` mapped back through ``scale_factor``."""
    areas = {}
    for sample in (item['data_samples'] for item in yolo_val_dataset(yolo_root)[1]):
        scale = np.tile(np.asarray(sample.scale_factor, np.float64), 2)  # (4,) w, h, w, h
        boxes = sample.gt_instances.bboxes.numpy().astype(np.float64) / scale  # (N, 4)
        areas[os.path.basename(sample.img_path)] = list(
            (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    with open(ann_file) as f:
        coco = json.load(f)
    file_of = {img['id']: img['file_name'] for img in coco['images']}
    for ann in coco['annotations']:
        ann['area'] = float(areas[file_of[ann['image_id']]].pop(0))
    with open(ann_file, 'w') as f:
        json.dump(coco, f)


def yolo_path(yolo_root: str, preds: Predictions) -> tuple[dict, np.ndarray]:
    """The YOLO demo config's val dataset (data_root ``yolo_root``), test pipeline and
    val_evaluator. Returns the metrics and the 12 raw COCO stats."""
    cfg, dataset = yolo_val_dataset(yolo_root)
    if 'ann_file' in cfg.val_evaluator:
        raise ValueError(f'{CONFIG}: its val_evaluator should build the ground truth from the '
                         'samples (no ann_file).')
    metric = CocoMetric(**{k: v for k, v in cfg.val_evaluator.items() if k != 'type'})
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        pred = preds[os.path.basename(sample.img_path)]
        sample.pred_instances = InstanceData(**{k: torch.from_numpy(v) for k, v in pred.items()})
        evaluator.process([sample])
    return evaluator.evaluate(len(dataset)), metric.last_evaluation.stats


def coco_path(coco: CocoDataset, ann_file: str, preds: Predictions) -> tuple[dict, np.ndarray]:
    """``CocoMetric(ann_file=ann_file, classwise=True)`` on ``coco``'s images."""
    metric = CocoMetric(ann_file=ann_file, classwise=True)
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = coco.metainfo
    for i in range(len(coco)):
        info = coco.get_data_info(i)
        evaluator.process([dict(img_id=info['img_id'],
                                pred_instances=preds[os.path.basename(info['img_path'])])])
    return evaluator.evaluate(len(coco)), metric.last_evaluation.stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ann-file', default='data/shapes/annotations/instances_val.json')
    parser.add_argument('--img-dir', default='data/shapes/val')
    parser.add_argument('--match-areas', action='store_true',
                        help="give the COCO path the YOLO path's ground-truth areas")
    args = parser.parse_args()
    register_all_modules()
    with tempfile.TemporaryDirectory() as out:
        counts = coco_to_yolo(args.ann_file, args.img_dir, out, 'val')
        print(f"{counts['images']} images, {counts['boxes']} boxes ({counts['crowd']} crowd "
              'boxes left out)')
        ann_file = os.path.join(out, 'boxes_only.json')
        boxes_only_coco(args.ann_file, ann_file)
        if args.match_areas:
            match_areas(ann_file, out)
        coco = CocoDataset(ann_file=ann_file, test_mode=True, metainfo=dict(
            classes=tuple(c['name'] for c in json.load(open(ann_file))['categories'])),
            data_prefix=dict(img=os.path.abspath(args.img_dir) + '/'))
        gt_stats = yolo_path(out, make_predictions(coco, perturb=False))[1]
        preds = make_predictions(coco, perturb=True)
        yolo_stats, coco_stats = yolo_path(out, preds)[1], coco_path(coco, ann_file, preds)[1]
    print(f"{'stat':<10}{'GT as pred':>12}{'YOLO path':>12}{'COCO path':>12}{'|diff|':>10}")
    for i, name in enumerate(COCO_STAT_NAMES):
        print(f'{name:<10}{gt_stats[i]:>12.6f}{yolo_stats[i]:>12.6f}{coco_stats[i]:>12.6f}'
              f'{abs(yolo_stats[i] - coco_stats[i]):>10.2e}')


if __name__ == '__main__':
    main()

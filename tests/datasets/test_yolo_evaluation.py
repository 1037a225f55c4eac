"""Evaluating YOLO-format data: YoloDataset through the YOLO demo config's test pipeline into
CocoMetric (ground truth built in memory from the samples) scores the ground truth as mAP 1.0,
and gives the COCO path's numbers (CocoDataset + CocoMetric(ann_file)) on the same boxes."""
import glob
import json
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from vitdense.apis import load_config
from vitdense.datasets import ShapesDataset
from vitdense.evaluation import CocoMetric
from vitdense.registry import DATASETS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'configs/fcos/fcos_vit-t-hybrid_1xb8-demo_yolo.py')


def _predictions(coco: ShapesDataset, perturb: bool) -> dict[str, dict[str, np.ndarray]]:
    """Per image file name: the non-crowd ground truth as predictions (score 1), or, with
    ``perturb``, some boxes dropped, the rest jittered (~8 % of their size) with random scores
    and 10 % wrong labels, plus one or two random false positives per image."""
    rng = np.random.default_rng(0)
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
            labels = np.where(rng.random(len(labels)) < 0.1, rng.integers(0, 8, len(labels)),
                              labels)
            num_fp = int(rng.integers(1, 3))
            xy = rng.random((num_fp, 2)) * [info['width'] - 40, info['height'] - 40]
            boxes = np.concatenate([boxes, np.concatenate([xy, xy + 10 + 30 * rng.random(
                (num_fp, 2))], axis=1)])
            labels = np.concatenate([labels, rng.integers(0, 8, num_fp)])
            scores = rng.random(len(labels))
        preds[os.path.basename(info['img_path'])] = dict(
            bboxes=boxes.astype(np.float32), scores=scores.astype(np.float32), labels=labels)
    return preds


def _yolo_path(yolo_root: str, preds: dict) -> tuple[dict, np.ndarray]:
    """The YOLO config's val dataset and pipeline, evaluated with its val_evaluator."""
    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('vitdense'):
        dataset = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=yolo_root))
    assert 'ann_file' not in cfg.val_evaluator  # ground truth from the samples
    metric = CocoMetric(**{k: v for k, v in cfg.val_evaluator.items() if k != 'type'})
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        assert sample.img_shape != sample.ori_shape or sample.scale_factor == (1.0, 1.0)
        pred = preds[os.path.basename(sample.img_path)]
        sample.pred_instances = InstanceData(**{k: torch.from_numpy(v) for k, v in pred.items()})
        evaluator.process([sample])
    return evaluator.evaluate(len(dataset)), metric.last_evaluation.stats


def _coco_path(coco: ShapesDataset, ann_file: str, preds: dict) -> tuple[dict, np.ndarray]:
    metric = CocoMetric(ann_file=ann_file, classwise=True)
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = coco.metainfo
    for i in range(len(coco)):
        info = coco.get_data_info(i)
        pred = preds[os.path.basename(info['img_path'])]
        evaluator.process([dict(img_id=info['img_id'], pred_instances=pred)])
    return evaluator.evaluate(len(coco)), metric.last_evaluation.stats


@pytest.fixture(scope='module')
def coco_val(shapes_root, tmp_path_factory) -> tuple[ShapesDataset, str]:
    """The shapes val split through CocoDataset, and its COCO file as the YOLO copy holds it:
    without crowd boxes (YOLO has none) and with box areas (YOLO has no masks)."""
    with open(os.path.join(shapes_root, 'annotations', 'instances_val.json')) as f:
        coco = json.load(f)
    coco['annotations'] = [dict(a, area=a['bbox'][2] * a['bbox'][3])
                           for a in coco['annotations'] if not a['iscrowd']]
    ann_file = str(tmp_path_factory.mktemp('coco_boxes') / 'instances_val_boxes.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    dataset = ShapesDataset(ann_file=ann_file, data_prefix=dict(img=f'{shapes_root}/val/'),
                            test_mode=True)
    return dataset, ann_file


def test_ground_truth_as_predictions_scores_one(shapes_yolo_root, coco_val):
    preds = _predictions(coco_val[0], perturb=False)
    results, stats = _yolo_path(shapes_yolo_root, preds)
    for name in ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75'):
        assert results[f'coco/{name}'] == 1.0
    assert all(v in (1.0, -1.0) for v in stats[:6])  # -1: no object of that size


def test_yolo_path_equals_coco_path(shapes_yolo_root, coco_val):
    preds = _predictions(coco_val[0], perturb=True)
    yolo_results, yolo_stats = _yolo_path(shapes_yolo_root, preds)
    coco_results, coco_stats = _coco_path(*coco_val, preds)
    assert 0.1 < coco_stats[0] < 0.9  # a non-degenerate score, far from 0 and 1
    assert yolo_results == coco_results  # the 6 rounded stats and the per-class APs
    np.testing.assert_allclose(yolo_stats, coco_stats, rtol=0, atol=1e-12)


def test_yolo_config_trains_and_validates_through_the_runner(shapes_yolo_root, tmp_path):
    """Two iterations of the YOLO demo config (test-width ViT, no pretrained backbone), then its
    validation: the Runner hands YoloDataset's classes to CocoMetric, which scores the samples."""
    cfg = load_config(CONFIG)
    cfg.merge_from_dict({
        'model.backbone.arch': 'test', 'model.backbone.init_cfg': None,
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
        'default_hooks.logger.interval': 1, 'default_hooks.checkpoint.interval': 100,
        'param_scheduler.0.end': 1, 'param_scheduler.1.begin': 1,
        'visualizer.vis_backends': [dict(type='LocalVisBackend')]})
    for split in ('train_dataloader', 'val_dataloader'):
        cfg.merge_from_dict({f'{split}.batch_size': 2, f'{split}.num_workers': 0,
                             f'{split}.persistent_workers': False,
                             f'{split}.dataset.data_root': shapes_yolo_root})
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(Config(cfg.to_dict()))
    runner.train()
    assert runner.val_evaluator.dataset_meta['classes'][0] == 'circle'
    with open(glob.glob(os.path.join(cfg.work_dir, '*', 'vis_data', 'scalars.json'))[0]) as f:
        val = [json.loads(line) for line in f if 'coco/bbox_mAP' in line]
    assert len(val) == 1 and 0.0 <= val[0]['coco/bbox_mAP'] <= 1.0
    assert 'coco/circle_precision' in val[0]  # classwise, with the YAML's names

"""Evaluating YOLO-format data: YoloDataset through the YOLO demo config's test pipeline into
CocoMetric (ground truth built in memory from the samples) scores the ground truth as mAP 1.0,
and gives the COCO path's numbers (CocoDataset + CocoMetric(ann_file)) on the same boxes; the
comparison is tools/analysis/yolo_eval_parity.py's, run here on the session's small shapes set."""
import glob
import json
import os
import runpy

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from vitdense.apis import load_config
from vitdense.datasets import ShapesDataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARITY = runpy.run_path(os.path.join(ROOT, 'tools/analysis/yolo_eval_parity.py'))
OVERALL = [0, 1, 2, 6, 7, 8]  # AP, AP50, AP75, AR@1/10/100: all areas, no size bucket


@pytest.fixture
def coco_val(shapes_root, tmp_path) -> tuple[ShapesDataset, str]:
    """The shapes val split as the YOLO copy holds it, in a COCO file: no crowd boxes, box
    areas; and CocoDataset on it."""
    ann_file = str(tmp_path / 'instances_val_boxes.json')
    PARITY['boxes_only_coco'](os.path.join(shapes_root, 'annotations', 'instances_val.json'),
                              ann_file)
    dataset = ShapesDataset(ann_file=ann_file, data_prefix=dict(img=f'{shapes_root}/val/'),
                            test_mode=True)
    return dataset, ann_file


def test_ground_truth_as_predictions_scores_one(shapes_yolo_root, coco_val):
    preds = PARITY['make_predictions'](coco_val[0], perturb=False)
    results, stats = PARITY['yolo_path'](shapes_yolo_root, preds)
    for name in ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75'):
        assert results[f'coco/{name}'] == 1.0
    assert all(v in (1.0, -1.0) for v in stats[:6])  # -1: no object of that size


def test_yolo_path_equals_coco_path(shapes_yolo_root, coco_val):
    dataset, ann_file = coco_val
    preds = PARITY['make_predictions'](dataset, perturb=True)
    yolo_results, yolo_stats = PARITY['yolo_path'](shapes_yolo_root, preds)
    coco_results, coco_stats = PARITY['coco_path'](dataset, ann_file, preds)
    assert 0.1 < coco_stats[0] < 0.9  # a non-degenerate score, far from 0 and 1
    np.testing.assert_allclose(yolo_stats[OVERALL], coco_stats[OVERALL], rtol=0, atol=1e-12)
    # The size buckets differ only through areas on a bucket boundary (see the tool): with the
    # YOLO path's areas, the COCO path gives every stat and per-class AP exactly.
    PARITY['match_areas'](ann_file, shapes_yolo_root)
    coco_results, coco_stats = PARITY['coco_path'](dataset, ann_file, preds)
    np.testing.assert_allclose(yolo_stats, coco_stats, rtol=0, atol=1e-12)
    assert yolo_results == coco_results  # the 6 rounded stats and the per-class APs


def test_yolo_config_trains_and_validates_through_the_runner(shapes_yolo_root, tmp_path):
    """Two iterations of the YOLO demo config (test-width ViT, no pretrained backbone), then its
    validation: the Runner hands YoloDataset's classes to CocoMetric, which scores the samples."""
    cfg = load_config(PARITY['CONFIG'])
    cfg.merge_from_dict({
        'model.backbone.arch': 'test', 'model.backbone.init_cfg': None, 'model.init_cfg': None,
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
        'default_hooks.logger.interval': 1, 'default_hooks.checkpoint.interval': 100,
        'param_scheduler.0.end': 1, 'param_scheduler.1.begin': 1,
        'visualizer.vis_backends': [dict(type='LocalVisBackend')],
        'visualizer.name': f'yolo-{tmp_path}'})  # mmengine reuses a visualizer by name
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


def test_parity_tool_prints_the_table(shapes_root, monkeypatch, capsys):
    monkeypatch.setattr('sys.argv', ['yolo_eval_parity.py', '--ann-file',
                                     f'{shapes_root}/annotations/instances_val.json',
                                     '--img-dir', f'{shapes_root}/val', '--match-areas'])
    PARITY['main']()
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.startswith(('mAP', 'AR'))]
    assert len(rows) == 12 and all(float(row[-1]) == 0 for row in rows)
    assert float(rows[0][1]) == 1.0  # ground truth as predictions

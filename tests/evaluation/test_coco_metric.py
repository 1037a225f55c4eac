"""CocoMetric against pycocotools' COCOeval (the oracle): stats must be exactly equal."""
import contextlib
import copy
import io
import json

import numpy as np
import pycocotools.cocoeval
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import vitdense.evaluation.coco_metric as coco_metric_module
from vitdense.evaluation import CocoMetric
from vitdense.evaluation.coco_backend import (
    COCO_BACKENDS,
    COCO_STAT_NAMES,
    BoxEvaluation,
    xyxy_to_xywh,
)
from vitdense.evaluation.table import format_table
from vitdense.registry import METRICS
from vitdense.structures import DetDataSample

CLASSES = ('cat', 'dog', 'bird', 'fish')
# The annotation file lists categories in another order, with non-contiguous ids.
FILE_CATEGORIES = [{'id': 11, 'name': 'fish'}, {'id': 2, 'name': 'dog'},
                   {'id': 7, 'name': 'cat'}, {'id': 5, 'name': 'bird'}]
NAME_TO_ID = {c['name']: c['id'] for c in FILE_CATEGORIES}


def _random_boxes(rng: np.random.Generator, n: int, width: int, height: int) -> np.ndarray:
    """(n, 4) xyxy boxes inside a width x height image, sizes spanning small to large."""
    wh = rng.uniform(4, 0.9 * min(width, height), size=(n, 2))
    xy = rng.uniform(0, 1, size=(n, 2)) * (np.array([width, height]) - wh)
    return np.concatenate([xy, xy + wh], axis=1)


def make_samples(seed: int, num_images: int = 24, as_dict: bool = True
                 ) -> list[dict] | list[DetDataSample]:
    """Data samples (by default as the dicts mmengine's Evaluator passes) with GT in the
    resized input frame.

    Includes crowd boxes, images without ground truth and images without predictions.
    """
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(num_images):
        height, width = int(rng.integers(61, 200)), int(rng.integers(61, 300))
        scale = (float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.5, 2.0)))
        num_gt = 0 if i % 7 == 3 else int(rng.integers(1, 8))
        gt = _random_boxes(rng, num_gt, width, height)
        gt_labels = rng.integers(0, len(CLASSES), num_gt)
        num_crowd = int(rng.random() < 0.3)
        crowd = _random_boxes(rng, num_crowd, width, height)
        crowd_labels = rng.integers(0, len(CLASSES), num_crowd)
        jitter = gt + rng.normal(0, 0.08, size=gt.shape) * (gt[:, 2:] - gt[:, :2]).repeat(2, 1)
        num_random = 0 if i % 5 == 2 else int(rng.integers(1, 12))
        pred = np.concatenate([jitter, _random_boxes(rng, num_random, width, height)])
        pred_labels = np.concatenate([gt_labels, rng.integers(0, len(CLASSES), num_random)])
        flip = rng.random(len(pred_labels)) < 0.15  # some wrong labels
        pred_labels[flip] = rng.integers(0, len(CLASSES), int(flip.sum()))
        if i % 11 == 5:  # no predictions at all
            pred, pred_labels = pred[:0], pred_labels[:0]
        to_input = np.array(scale * 2)  # original pixels -> resized input frame
        sample = DetDataSample(metainfo=dict(img_id=1000 + 3 * i, ori_shape=(height, width),
                                             img_shape=(round(height * scale[1]),
                                                        round(width * scale[0])),
                                             scale_factor=scale))
        sample.gt_instances = InstanceData(
            bboxes=torch.as_tensor(gt * to_input, dtype=torch.float32),
            labels=torch.as_tensor(gt_labels))
        sample.ignored_instances = InstanceData(
            bboxes=torch.as_tensor(crowd * to_input, dtype=torch.float32),
            labels=torch.as_tensor(crowd_labels))
        sample.pred_instances = InstanceData(
            bboxes=torch.as_tensor(pred, dtype=torch.float32),
            scores=torch.as_tensor(rng.random(len(pred_labels)), dtype=torch.float32),
            labels=torch.as_tensor(pred_labels))
        samples.append(sample.to_dict() if as_dict else sample)
    return samples


def oracle_gt(samples: list[dict], categories: list[dict], cat_of_label: list[int],
              area_factor: float = 1.0) -> dict:
    """COCO GT dict from the samples: input-frame boxes / scale_factor, area = w*h*factor."""
    images, annotations = [], []
    for s in samples:
        images.append({'id': s['img_id'], 'height': s['ori_shape'][0],
                       'width': s['ori_shape'][1]})
        scale = np.array(s['scale_factor'] * 2, dtype=np.float64)
        for part, crowd in (('gt_instances', 0), ('ignored_instances', 1)):
            boxes = xyxy_to_xywh(s[part]['bboxes'].numpy().astype(np.float64) / scale)
            for box, label in zip(boxes.tolist(), s[part]['labels'].tolist()):
                annotations.append({'id': len(annotations) + 1, 'image_id': s['img_id'],
                                    'category_id': cat_of_label[label], 'bbox': box,
                                    'area': box[2] * box[3] * area_factor, 'iscrowd': crowd})
    return {'images': images, 'annotations': annotations, 'categories': categories}


def oracle_detections(samples: list[dict], cat_of_label: list[int]) -> list[dict]:
    dets = []
    for s in samples:
        pred = s['pred_instances']
        boxes = xyxy_to_xywh(pred['bboxes'].numpy())
        for box, score, label in zip(boxes.tolist(), pred['scores'].tolist(),
                                     pred['labels'].tolist()):
            dets.append({'image_id': s['img_id'], 'bbox': box, 'score': score,
                         'category_id': cat_of_label[label]})
    return dets


def run_pycocotools(gt_dict: dict, detections: list[dict] | str, eps_free: bool = False
                    ) -> COCOeval:
    """pycocotools' COCOeval, the oracle.

    ``eps_free`` makes its precision ``tp / (tp + fp)`` instead of ``tp / (tp + fp + eps)``, as
    faster-coco-eval's C++ computes it: the two differ only where a class's top-ranked detection
    is a true positive followed by a false positive (1 - 2**-52 instead of 1.0), which can move
    a mean in its last bit. With this one change pycocotools must equal faster-coco-eval exactly.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        if eps_free:  # 1 + 1e-300 == 1, and 0 / 1e-300 == 0 (no 0 / 0)
            patch = stack.enter_context(pytest.MonkeyPatch.context())
            patch.setattr(pycocotools.cocoeval.np, 'spacing', lambda x: 1e-300)
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        coco_eval = COCOeval(gt, gt.loadRes(detections), 'bbox')
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval


def run_oracles(gt_dict: dict, detections: list[dict], backend: str) -> tuple[COCOeval, COCOeval]:
    """(standard pycocotools, the oracle ``backend`` must equal bit for bit)."""
    standard = run_pycocotools(copy.deepcopy(gt_dict), copy.deepcopy(detections))
    if backend == 'pycocotools':
        return standard, standard
    return standard, run_pycocotools(gt_dict, detections, eps_free=True)


def assert_matches_oracles(stats: np.ndarray, standard: COCOeval, exact: COCOeval) -> None:
    assert stats.tolist() == exact.stats.tolist()  # bit for bit
    np.testing.assert_allclose(stats, standard.stats, rtol=0, atol=1e-15)


def run_metric(metric: CocoMetric, samples: list[dict], monkeypatch: pytest.MonkeyPatch
               ) -> tuple[dict, BoxEvaluation | None, list[str]]:
    """Drive the metric as the Evaluator does; return its results, evaluation and log lines."""
    logs = []
    monkeypatch.setattr(coco_metric_module, 'print_log', lambda msg, **kw: logs.append(msg))
    metric.dataset_meta = dict(classes=CLASSES)
    for start in range(0, len(samples), 5):  # batches of 5
        metric.process({}, samples[start:start + 5])
    return metric.evaluate(size=len(samples)), metric.last_evaluation, logs


def _rounded(x: float) -> float:
    return float(f'{x:.3f}')


@pytest.mark.parametrize('backend', COCO_BACKENDS)
def test_stats_equal_pycocotools_without_ann_file(backend, monkeypatch):
    samples = make_samples(seed=1)  # a seed where pycocotools' eps shows in the last bit
    identity = list(range(len(CLASSES)))
    categories = [{'id': i, 'name': n} for i, n in enumerate(CLASSES)]
    standard, exact = run_oracles(oracle_gt(samples, categories, identity),
                                  oracle_detections(samples, identity), backend)
    assert standard.stats[0] > 0.05  # a meaningful, non-degenerate AP

    results, evaluation, logs = run_metric(CocoMetric(backend=backend), samples, monkeypatch)
    assert_matches_oracles(evaluation.stats, standard, exact)
    assert np.array_equal(evaluation.precision, exact.eval['precision'])
    assert results == {f'coco/bbox_{n}': _rounded(standard.stats[i])
                       for i, n in enumerate(COCO_STAT_NAMES[:6])}
    summary = next(m for m in logs if 'Average Precision' in m)
    assert summary.count('Average Precision') == 6 and summary.count('Average Recall') == 6


@pytest.mark.parametrize('backend', COCO_BACKENDS)
@pytest.mark.parametrize('seed', [0, 1])  # pycocotools' eps shows with seed 0, not with 1
def test_stats_equal_pycocotools_with_ann_file(backend, seed, tmp_path, monkeypatch):
    samples = make_samples(seed=seed)
    cat_of_label = [NAME_TO_ID[n] for n in CLASSES]
    # Areas from the file (as segment areas would be), not recomputed from the boxes.
    gt_dict = oracle_gt(samples, FILE_CATEGORIES, cat_of_label, area_factor=0.7)
    ann_file = tmp_path / 'instances.json'
    ann_file.write_text(json.dumps(gt_dict))
    standard, exact = run_oracles(json.loads(ann_file.read_text()),
                                  oracle_detections(samples, cat_of_label), backend)

    metric = CocoMetric(ann_file=str(ann_file), backend=backend, classwise=True)
    results, evaluation, logs = run_metric(metric, samples, monkeypatch)
    assert_matches_oracles(evaluation.stats, standard, exact)
    assert results['coco/bbox_mAP'] == _rounded(standard.stats[0])

    # Classwise: per-class AP from the oracle's precision, whose class axis is sorted by id.
    sorted_ids = sorted(cat_of_label)
    for name, cat_id in zip(CLASSES, cat_of_label):
        p = exact.eval['precision'][:, :, sorted_ids.index(cat_id), 0, -1]
        assert results[f'coco/{name}_precision'] == _rounded(np.mean(p[p > -1]))
    table = next(m for m in logs if m.startswith('Per-class'))
    assert all(name in table for name in CLASSES) and 'mAP_50' in table


@pytest.mark.parametrize('backend', COCO_BACKENDS)
def test_empty_predictions(backend, monkeypatch):
    samples = make_samples(seed=2, num_images=6)
    for s in samples:
        pred = s['pred_instances']
        s['pred_instances'] = {k: v[:0] for k, v in pred.items()}
    results, evaluation, _ = run_metric(CocoMetric(backend=backend), samples, monkeypatch)
    assert results['coco/bbox_mAP'] == 0.0
    assert evaluation.stats[8] == 0.0  # AR@100
    assert all(v in (0.0, -1.0) for v in results.values())


def test_backends_agree_and_faster_is_default(monkeypatch):
    samples = make_samples(seed=3)  # a seed where pycocotools' eps shows in the last bit
    assert CocoMetric().backend == 'faster_coco_eval'
    runs = [run_metric(CocoMetric(backend=b), samples, monkeypatch) for b in COCO_BACKENDS]
    assert runs[0][0] == runs[1][0]  # the reported (rounded) metrics
    np.testing.assert_allclose(runs[0][1].stats, runs[1][1].stats, rtol=0, atol=1e-15)


def test_format_only_writes_loadable_results(tmp_path, monkeypatch):
    samples = make_samples(seed=4)
    prefix = tmp_path / 'out' / 'test'
    metric = CocoMetric(format_only=True, outfile_prefix=str(prefix))
    results, evaluation, _ = run_metric(metric, samples, monkeypatch)
    assert results == {} and evaluation is None

    written = json.loads((tmp_path / 'out' / 'test.bbox.json').read_text())
    num_dets = sum(len(s['pred_instances']['scores']) for s in samples)
    assert len(written) == num_dets
    assert set(written[0]) == {'image_id', 'bbox', 'score', 'category_id'}
    # pycocotools accepts the file, and evaluating it reproduces the metric's own evaluation.
    identity = list(range(len(CLASSES)))
    categories = [{'id': i, 'name': n} for i, n in enumerate(CLASSES)]
    from_file = run_pycocotools(oracle_gt(samples, categories, identity),
                                str(tmp_path / 'out' / 'test.bbox.json'))
    direct = run_metric(CocoMetric(backend='pycocotools'), samples, monkeypatch)[1]
    assert from_file.stats.tolist() == direct.stats.tolist()


def test_through_mmengine_evaluator_with_data_samples():
    evaluator = Evaluator([CocoMetric(backend='pycocotools')])
    evaluator.dataset_meta = dict(classes=CLASSES)
    samples = make_samples(seed=7, num_images=8, as_dict=False)
    evaluator.process(samples[:5])
    evaluator.process(samples[5:])
    results = evaluator.evaluate(size=8)
    identity = list(range(len(CLASSES)))
    categories = [{'id': i, 'name': n} for i, n in enumerate(CLASSES)]
    dicts = [s.to_dict() for s in samples]
    oracle = run_pycocotools(oracle_gt(dicts, categories, identity),
                             oracle_detections(dicts, identity))
    assert results['coco/bbox_mAP'] == _rounded(oracle.stats[0])
    assert len(results) == 6


def test_registered_and_built_from_config():
    metric = METRICS.build(dict(type='CocoMetric', backend='pycocotools'))
    assert isinstance(metric, CocoMetric) and metric.prefix == 'coco'


@pytest.mark.parametrize('kwargs, match', [
    (dict(metric='segm'), "'segm'"),
    (dict(metric=['bbox', 'proposal']), "'proposal'"),
    (dict(backend='detectron2'), "'detectron2'"),
    (dict(format_only=True), 'outfile_prefix'),
    (dict(ann_file='/nonexistent/instances.json'), 'instances.json'),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        CocoMetric(**kwargs)


def test_class_missing_from_ann_file_is_named(tmp_path, monkeypatch):
    samples = make_samples(seed=5, num_images=3)
    ann_file = tmp_path / 'instances.json'
    categories = [c for c in FILE_CATEGORIES if c['name'] != 'bird']
    ann_file.write_text(json.dumps({'images': oracle_gt(samples, categories, [0] * 4)['images'],
                                    'annotations': [], 'categories': categories}))
    with pytest.raises(ValueError, match="class 'bird'"):
        run_metric(CocoMetric(ann_file=str(ann_file)), samples, monkeypatch)


def test_resized_sample_without_scale_factor_raises(monkeypatch):
    samples = make_samples(seed=8, num_images=2)
    del samples[1]['scale_factor']
    with pytest.raises(ValueError, match='no scale_factor'):
        run_metric(CocoMetric(), samples, monkeypatch)


def test_label_out_of_range_raises(monkeypatch):
    samples = make_samples(seed=6, num_images=3)
    samples[0]['pred_instances']['labels'][:] = len(CLASSES)
    with pytest.raises(ValueError, match='outside 0..3'):
        run_metric(CocoMetric(), samples, monkeypatch)


def test_format_table():
    table = format_table(['a', 'bbb'], [['xx', 1], ['y', 2.5]])
    lines = table.split('\n')
    assert len(lines) == 6 and len({len(line) for line in lines}) == 1
    assert lines[1] == '| a  | bbb |' and lines[3] == '| xx | 1   |'
    with pytest.raises(ValueError, match='row 0'):
        format_table(['a'], [[1, 2]])


def test_ground_truth_loaded_after_the_resize_is_not_rescaled(tmp_path):
    """mmdet's test order (Resize, then LoadAnnotations) keeps boxes in original pixels; without
    ann_file the metric must not divide them by the image's scale_factor (it did: mAP 0.19 for
    the ground truth scored as predictions)."""
    from mmengine.dataset import Compose

    from vitdense.datasets.shapes import generate_shapes
    from vitdense.evaluation import CocoMetric
    from vitdense.registry import DATASETS
    from vitdense.utils import register_all_modules

    register_all_modules()
    root = str(tmp_path / 'shapes') + '/'
    generate_shapes(root, seed=4, num_train=1, num_val=4)
    for order in ('resize_first', 'annotations_first'):
        steps = [dict(type='Resize', scale=(320, 320), keep_ratio=True),
                 dict(type='LoadAnnotations', with_bbox=True)]
        pipeline = [dict(type='LoadImageFromFile'),
                    *(steps if order == 'resize_first' else steps[::-1]),
                    dict(type='PackDetInputs')]
        dataset = DATASETS.build(dict(type='ShapesDataset', data_root=root,
                                      ann_file='annotations/instances_val.json',
                                      data_prefix=dict(img='val/'), test_mode=True))
        metric = CocoMetric()
        metric.dataset_meta = dataset.metainfo
        transform = Compose(pipeline)
        for i in range(len(dataset)):
            sample = transform(dataset[i])['data_samples']
            gt = sample.gt_instances
            scale = np.asarray(sample.metainfo['scale_factor'] if order == 'annotations_first'
                               else (1.0, 1.0))
            pred = dict(bboxes=gt.bboxes.numpy() / np.tile(scale, 2),  # original pixels
                        scores=np.ones(len(gt.labels)), labels=gt.labels.numpy())
            metric.process({}, [dict(sample.to_dict(), pred_instances=pred)])
        assert metric.evaluate(len(dataset))['coco/bbox_mAP'] == pytest.approx(1.0), order

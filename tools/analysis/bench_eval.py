"""Time CocoMetric with faster-coco-eval against pycocotools, on synthetic COCO-sized data.

Each run is the full metric path as the Runner drives it: ``process`` on batches of data-sample
dicts, then ``evaluate`` (results -> COCO objects -> COCOeval -> stats). The ground truth comes
from an annotation file (written once, loaded when the metric is built, outside the timing).
Runs of the two backends alternate; the table shows medians. The last line is
``speedup=<pycocotools / faster_coco_eval> identical=<12 stats bit-identical in every run>``.

    python tools/analysis/bench_eval.py --images 5000 --dets 100 --repeats 3
"""
import argparse
import gc
import json
import os
import statistics
import tempfile
import time

import numpy as np
import torch
from mmengine.logging import MMLogger

from vitdense.evaluation import CocoMetric
from vitdense.evaluation.coco_backend import COCO_STAT_NAMES, xyxy_to_xywh
from vitdense.evaluation.table import format_table

NUM_CLASSES = 80
BACKENDS = ('pycocotools', 'faster_coco_eval')  # peer first, then the default


def random_boxes(rng: np.random.Generator, n: int, width: int, height: int) -> np.ndarray:
    """(n, 4) xyxy boxes in the image, sides log-uniform from 4 px (small, medium and large)."""
    wh = np.exp(rng.uniform(np.log(4), np.log(0.95 * min(width, height)), size=(n, 2)))
    xy = rng.uniform(0, 1, size=(n, 2)) * (np.array([width, height]) - wh)
    return np.concatenate([xy, xy + wh], axis=1)


def make_data(num_images: int, dets_per_image: int, seed: int) -> tuple[dict, list[dict]]:
    """A COCO ground-truth dict and data-sample dicts with ``dets_per_image`` predictions each.

    1-10 GT boxes per image over 80 classes (3% crowd); detections are 3 jittered copies of
    each GT box (label kept 90% of the time, score uniform in [0.2, 1]) topped up with random
    boxes (score uniform in [0, 0.6]), as a detector's true positives tend to score higher.
    """
    rng = np.random.default_rng(seed)
    images, annotations, samples = [], [], []
    for img_id in range(1, num_images + 1):
        width, height = int(rng.integers(320, 641)), int(rng.integers(240, 481))
        images.append({'id': img_id, 'width': width, 'height': height})
        num_gt = int(rng.integers(1, 11))
        gt = random_boxes(rng, num_gt, width, height)
        gt_labels = rng.integers(0, NUM_CLASSES, num_gt)
        for box, label in zip(xyxy_to_xywh(gt).tolist(), gt_labels.tolist()):
            annotations.append({'id': len(annotations) + 1, 'image_id': img_id,
                                'category_id': label + 1, 'bbox': box, 'area': box[2] * box[3],
                                'iscrowd': int(rng.random() < 0.03)})
        copies = np.repeat(gt, 3, axis=0)[:dets_per_image]  # (3G, 4)
        sides = np.tile(copies[:, 2:] - copies[:, :2], 2)  # (3G, 4) w, h, w, h
        jittered = copies + rng.normal(0, 0.1, copies.shape) * sides
        labels = np.repeat(gt_labels, 3)[:dets_per_image]
        relabel = rng.random(len(labels)) < 0.1
        labels[relabel] = rng.integers(0, NUM_CLASSES, int(relabel.sum()))
        num_random = dets_per_image - len(jittered)
        boxes = np.concatenate([jittered, random_boxes(rng, num_random, width, height)])
        labels = np.concatenate([labels, rng.integers(0, NUM_CLASSES, num_random)])
        scores = np.concatenate([rng.uniform(0.2, 1.0, len(jittered)),
                                 rng.uniform(0.0, 0.6, num_random)])
        samples.append({'img_id': img_id, 'ori_shape': (height, width), 'pred_instances': {
            'bboxes': torch.as_tensor(boxes, dtype=torch.float32),
            'scores': torch.as_tensor(scores, dtype=torch.float32),
            'labels': torch.as_tensor(labels)}})
    categories = [{'id': k + 1, 'name': f'class_{k}'} for k in range(NUM_CLASSES)]
    return {'images': images, 'annotations': annotations, 'categories': categories}, samples


def run_once(backend: str, ann_file: str, samples: list[dict], batch_size: int
             ) -> tuple[float, float, CocoMetric]:
    """(seconds in process, seconds in evaluate, the metric) for one backend."""
    metric = CocoMetric(ann_file=ann_file, backend=backend)
    metric.dataset_meta = dict(classes=tuple(f'class_{k}' for k in range(NUM_CLASSES)))
    gc.collect()
    start = time.perf_counter()
    for i in range(0, len(samples), batch_size):
        metric.process({}, samples[i:i + batch_size])
    processed = time.perf_counter()
    metric.evaluate(size=len(samples))
    return processed - start, time.perf_counter() - processed, metric


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=5000)
    parser.add_argument('--dets', type=int, default=100, help='detections per image')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    MMLogger.get_instance('bench_eval', log_level='WARNING')  # the metric's logs stay quiet

    gt, samples = make_data(args.images, args.dets, args.seed)
    print(f'bench_eval: {args.images} images x {args.dets} detections '
          f'({args.images * args.dets} in all), {len(gt["annotations"])} GT boxes, '
          f'{NUM_CLASSES} classes; median of {args.repeats} runs per backend')
    times: dict[str, list[tuple[float, float]]] = {b: [] for b in BACKENDS}
    stats: dict[str, list[np.ndarray]] = {b: [] for b in BACKENDS}
    with tempfile.TemporaryDirectory() as tmp:
        ann_file = os.path.join(tmp, 'instances_bench.json')
        with open(ann_file, 'w') as f:
            json.dump(gt, f)
        for _ in range(args.repeats):
            for backend in BACKENDS:
                process_s, evaluate_s, metric = run_once(backend, ann_file, samples,
                                                         args.batch_size)
                times[backend].append((process_s, evaluate_s))
                stats[backend].append(metric.last_evaluation.stats)
    summary = metric.last_evaluation.summary

    median = {b: [statistics.median(t[i] for t in times[b]) for i in range(2)] for b in BACKENDS}
    total = {b: statistics.median(sum(t) for t in times[b]) for b in BACKENDS}
    reference = stats[BACKENDS[0]][0]
    runs = [s for b in BACKENDS for s in stats[b]]
    identical = all(s.tolist() == reference.tolist() for s in runs)
    max_diff = max(float(np.abs(s - reference).max()) for s in runs)
    rows = [[b, f'{median[b][0]:.2f}', f'{median[b][1]:.2f}', f'{total[b]:.2f}',
             f'{stats[b][0][0]:.6f}'] for b in BACKENDS]
    print(format_table(['backend', 'process s', 'evaluate s', 'total s', 'bbox_mAP'], rows))
    print(f'COCO summary (faster_coco_eval):\n{summary}')
    print('12 stats: ' + ', '.join(f'{n}={v:.17g}' for n, v in zip(COCO_STAT_NAMES, reference)))
    print(f'max |difference| of the 12 stats over all runs and backends: {max_diff:.3g}')
    print(f'speedup={total[BACKENDS[0]] / total[BACKENDS[1]]:.2f} '
          f'identical={str(identical).lower()}')


if __name__ == '__main__':
    main()

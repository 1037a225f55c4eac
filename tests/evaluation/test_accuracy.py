"""Accuracy against a direct computation on random predictions."""
import numpy as np
import pytest
from mmengine.evaluator import Evaluator

import vitdense.evaluation.accuracy as accuracy_module
from vitdense.evaluation import Accuracy
from vitdense.registry import METRICS
from vitdense.structures import ClsDataSample
from vitdense.utils import register_all_modules

register_all_modules()
CLASSES = ('circle', 'square', 'star', 'ring', 'cross')


def make_samples(seed: int, num: int = 57) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    rng = np.random.default_rng(seed)
    scores = rng.random((num, len(CLASSES))).astype(np.float32)
    labels = rng.choice([0, 1, 2, 4], size=num)  # class 3 never occurs
    scores[np.arange(num), labels] += rng.random(num) * 0.6  # better than chance
    samples = [ClsDataSample(gt_label=int(label)).set_pred_score(score).to_dict()
               for score, label in zip(scores, labels)]
    return scores, labels, samples


@pytest.mark.parametrize('seed', [0, 1])
def test_topk_equals_direct_computation(seed):
    scores, labels, samples = make_samples(seed)
    evaluator = Evaluator(dict(type='Accuracy', topk=(1, 2, 5)))
    evaluator.dataset_meta = dict(classes=CLASSES)
    for start in range(0, len(samples), 10):  # several batches
        evaluator.process(samples[start:start + 10])
    metrics = evaluator.evaluate(len(samples))
    order = np.argsort(-scores, axis=1)  # (N, K) classes by decreasing score
    for k in (1, 2, 5):
        want = 100 * np.mean([labels[i] in order[i, :k] for i in range(len(labels))])
        assert metrics[f'accuracy/top{k}'] == pytest.approx(want, abs=1e-4)
    assert metrics['accuracy/top5'] == pytest.approx(100)
    assert 0 < metrics['accuracy/top1'] < 100


def test_per_class_table_is_logged(monkeypatch):
    scores, labels, samples = make_samples(2)
    logs = []
    monkeypatch.setattr(accuracy_module, 'print_log', lambda msg, **kw: logs.append(msg))
    metric = METRICS.build(dict(type='Accuracy'))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, samples)
    metric.evaluate(len(samples))
    assert len(logs) == 1
    text = logs[0]
    pred = scores.argmax(1)
    for c, name in enumerate(CLASSES):
        row = next(line for line in text.splitlines() if line.startswith(f'| {name} '))
        if c == 3:
            assert '| -' in row and row.rstrip().endswith('| 0     |')
        else:
            want = 100 * np.mean(pred[labels == c] == c)
            assert f'{want:.2f}' in row and f'| {np.sum(labels == c)} ' in row


def test_labels_only_and_errors():
    metric = Accuracy()
    samples = [ClsDataSample(gt_label=g, pred_label=p).to_dict()
               for g, p in [(0, 0), (1, 2), (2, 2), (1, 1)]]
    metric.process({}, samples)
    assert metric.compute_metrics(metric.results) == dict(top1=75.0)
    top2 = Accuracy(topk=(1, 2))
    top2.process({}, samples)
    with pytest.raises(ValueError, match='needs pred_score'):
        top2.compute_metrics(top2.results)
    with pytest.raises(KeyError, match='gt_label'):
        metric.process({}, [ClsDataSample(pred_label=1).to_dict()])
    with pytest.raises(ValueError, match='positive'):
        Accuracy(topk=(0, ))
    big = Accuracy(topk=6)
    big.process({}, make_samples(0, num=3)[2])
    with pytest.raises(ValueError, match='top-6 needs at least 6 classes'):
        big.compute_metrics(big.results)

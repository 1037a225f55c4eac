"""IoUMetric against a direct numpy confusion-matrix computation."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

import vitdense.evaluation.iou_metric as iou_metric_module
from vitdense.evaluation import IoUMetric
from vitdense.registry import METRICS
from vitdense.structures import SegDataSample

CLASSES = ('sky', 'road', 'car', 'tree', 'lamp', 'sign')
NUM_CLASSES = len(CLASSES)
ABSENT = 4  # never in ground truth nor predictions: IoU and Acc NaN
PREDICTED_ONLY = 5  # predicted but never in ground truth: IoU 0, Acc NaN


def make_samples(seed: int, sizes=((61, 93), (17, 40), (33, 33), (8, 129))) -> list[dict]:
    rng = np.random.default_rng(seed)
    samples = []
    for h, w in sizes:
        label = rng.choice([0, 1, 2, 3], size=(h, w), p=[0.4, 0.3, 0.2, 0.1])
        label[rng.random((h, w)) < 0.15] = 255  # ignored pixels
        pred = np.where(rng.random((h, w)) < 0.6, label, rng.choice([0, 1, 2, 3, 5], (h, w)))
        pred[pred == 255] = 0
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.as_tensor(label[None], dtype=torch.uint8))
        sample.pred_sem_seg = PixelData(data=torch.as_tensor(pred[None], dtype=torch.int64))
        samples.append(sample.to_dict())
    return samples


def confusion_oracle(samples: list[dict], ignore_index: int = 255) -> dict[str, float]:
    """aAcc / mIoU / mAcc (percent, 2 decimals) from a summed (K, K) confusion matrix."""
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)  # (label, pred)
    for s in samples:
        label = s['gt_sem_seg']['data'].numpy().ravel().astype(np.int64)
        pred = s['pred_sem_seg']['data'].numpy().ravel()
        keep = (label != ignore_index) & (label < NUM_CLASSES)
        cm += np.bincount(label[keep] * NUM_CLASSES + pred[keep],
                          minlength=NUM_CLASSES ** 2).reshape(NUM_CLASSES, NUM_CLASSES)
    diag = np.diag(cm).astype(np.float64)
    with np.errstate(invalid='ignore'):
        iou = diag / (cm.sum(0) + cm.sum(1) - diag)
        acc = diag / cm.sum(1)
    return {'aAcc': float(np.round(diag.sum() / cm.sum() * 100, 2)),
            'mIoU': float(np.round(np.nanmean(iou) * 100, 2)),
            'mAcc': float(np.round(np.nanmean(acc) * 100, 2)),
            'iou': iou, 'acc': acc}


def run_metric(metric: IoUMetric, samples: list[dict], monkeypatch: pytest.MonkeyPatch
               ) -> tuple[dict, list[str]]:
    logs = []
    monkeypatch.setattr(iou_metric_module, 'print_log', lambda msg, **kw: logs.append(msg))
    metric.dataset_meta = dict(classes=CLASSES)
    for start in range(0, len(samples), 3):
        metric.process({}, samples[start:start + 3])
    return metric.evaluate(size=len(samples)), logs


def test_equals_confusion_matrix(monkeypatch):
    samples = make_samples(seed=0)
    oracle = confusion_oracle(samples)
    assert np.isnan(oracle['iou'][ABSENT]) and oracle['iou'][PREDICTED_ONLY] == 0
    assert np.isnan(oracle['acc'][PREDICTED_ONLY])

    results, logs = run_metric(IoUMetric(), samples, monkeypatch)
    assert results == {k: oracle[k] for k in ('aAcc', 'mIoU', 'mAcc')}
    # NaN classes are skipped, not counted as 0: the mean over the 5 defined IoUs.
    defined = np.delete(oracle['iou'], ABSENT)
    assert results['mIoU'] == float(np.round(defined.mean() * 100, 2))
    table = logs[-1]
    assert all(name in table for name in CLASSES) and 'nan' in table
    lamp_row = next(line for line in table.split('\n') if 'lamp' in line)
    assert lamp_row.count('nan') == 2


def test_areas_of_one_image_by_hand():
    pred = torch.tensor([[0, 1, 1], [2, 0, 7]])
    label = torch.tensor([[0, 1, 2], [2, 255, 1]])
    # (pred, label) kept: (0,0) (1,1) (1,2) (2,2) (7,1); pred 7 is out of range: not counted
    areas = iou_metric_module.area_stats(pred, label, 3, 255)
    assert areas.tolist() == [[1, 1, 1],   # intersect
                              [1, 3, 2],   # union
                              [1, 2, 1],   # pred
                              [1, 2, 2]]   # label


def test_nan_to_num_and_ignore_index(monkeypatch):
    samples = make_samples(seed=1)
    results, _ = run_metric(IoUMetric(nan_to_num=0), samples, monkeypatch)
    oracle = confusion_oracle(samples)
    assert results['mIoU'] == float(np.round(np.nan_to_num(oracle['iou']).mean() * 100, 2))
    assert results['mIoU'] < oracle['mIoU']

    # With another ignore index, 255 becomes an out-of-range label, absent from the label
    # areas (so from aAcc and mAcc), while class 0 is ignored.
    results_0, _ = run_metric(IoUMetric(ignore_index=0), samples, monkeypatch)
    oracle_0 = confusion_oracle(samples, ignore_index=0)
    assert np.isnan(oracle_0['acc'][0])
    assert (results_0['aAcc'], results_0['mAcc']) == (oracle_0['aAcc'], oracle_0['mAcc'])


def test_registered_with_mmseg_names():
    metric = METRICS.build(dict(type='IoUMetric', iou_metrics=['mIoU']))
    assert isinstance(metric, IoUMetric) and metric.prefix is None


@pytest.mark.parametrize('names', [['mDice'], ('mIoU', 'mFscore')])
def test_unsupported_metric_raises(names):
    with pytest.raises(ValueError, match=names[-1]):
        IoUMetric(iou_metrics=names)


def test_shape_mismatch_raises(monkeypatch):
    samples = make_samples(seed=2, sizes=((9, 11),))
    samples[0]['pred_sem_seg']['data'] = torch.zeros(1, 9, 12, dtype=torch.int64)
    with pytest.raises(ValueError, match=r'\(9, 12\)'):
        run_metric(IoUMetric(), samples, monkeypatch)


@pytest.mark.parametrize('background', [('sky',), ('sky', 'road')])
def test_foreground_mean_leaves_out_background_classes(monkeypatch, background):
    samples = make_samples(seed=3)
    oracle = confusion_oracle(samples)
    results, _ = run_metric(IoUMetric(background_classes=background), samples, monkeypatch)
    # mIoU still averages every class; mIoU_fg only the others, skipping the NaN (absent) class.
    assert {k: results[k] for k in ('aAcc', 'mIoU', 'mAcc')} == \
        {k: oracle[k] for k in ('aAcc', 'mIoU', 'mAcc')}
    foreground = [i for i, name in enumerate(CLASSES) if name not in background]
    fg_iou = oracle['iou'][foreground]
    assert np.isnan(fg_iou).sum() == 1  # ABSENT is a foreground class here
    assert results['mIoU_fg'] == float(np.round(np.nanmean(fg_iou) * 100, 2))
    assert results['mIoU_fg'] != results['mIoU']


def test_foreground_mean_only_when_asked(monkeypatch):
    results, _ = run_metric(IoUMetric(), make_samples(seed=4), monkeypatch)
    assert set(results) == {'aAcc', 'mIoU', 'mAcc'}


def test_foreground_mean_of_only_absent_classes_is_nan(monkeypatch):
    background = tuple(name for i, name in enumerate(CLASSES) if i != ABSENT)
    results, _ = run_metric(IoUMetric(background_classes=background), make_samples(seed=5),
                            monkeypatch)
    assert np.isnan(results['mIoU_fg']) and not np.isnan(results['mIoU'])


@pytest.mark.parametrize('background, error, match', [
    (('sky', 'grass'), ValueError, r"\['grass'\] are not among"),
    (CLASSES, ValueError, 'every class'),
    ('sky', TypeError, r"background_classes=\('sky',\)"),
])
def test_bad_background_classes_raise(monkeypatch, background, error, match):
    with pytest.raises(error, match=match):
        run_metric(IoUMetric(background_classes=background), make_samples(seed=6), monkeypatch)


def with_paths(samples: list[dict], reduce_zero_label: bool) -> list[dict]:
    for i, s in enumerate(samples):
        s['img_path'] = f'/data/ade/images/validation/ADE_val_{i:08d}.jpg'
        s['reduce_zero_label'] = reduce_zero_label
    return samples


@pytest.mark.parametrize('reduce_zero_label', [True, False])
def test_format_only_writes_pngs_in_the_dataset_label_values(monkeypatch, tmp_path,
                                                             reduce_zero_label):
    samples = with_paths(make_samples(seed=7), reduce_zero_label)
    for s in samples:
        del s['gt_sem_seg']  # a test split without labels
    out = tmp_path / 'preds'
    results, logs = run_metric(IoUMetric(format_only=True, output_dir=str(out)), samples,
                               monkeypatch)
    assert results == {}
    names = sorted(p.name for p in out.iterdir())
    assert names == [f'ADE_val_{i:08d}.png' for i in range(len(samples))]
    for i, s in enumerate(samples):
        png = cv2.imread(str(out / names[i]), cv2.IMREAD_UNCHANGED)
        pred = s['pred_sem_seg']['data'][0].numpy()
        assert png.dtype == np.uint8 and png.shape == pred.shape
        # ADE20K's server format: the files' labels, 1..150 (0 = "other", never predicted)
        assert (png == pred + (1 if reduce_zero_label else 0)).all()
    assert f'{len(samples)} PNG predictions written to {out}' in logs[-1]


def test_output_dir_writes_pngs_and_still_evaluates(monkeypatch, tmp_path):
    samples = with_paths(make_samples(seed=8), reduce_zero_label=True)
    results, _ = run_metric(IoUMetric(output_dir=str(tmp_path)), samples, monkeypatch)
    assert results == {k: confusion_oracle(samples)[k] for k in ('aAcc', 'mIoU', 'mAcc')}
    assert len(list(tmp_path.glob('*.png'))) == len(samples)


def test_format_only_needs_output_dir():
    with pytest.raises(ValueError, match='output_dir'):
        IoUMetric(format_only=True)

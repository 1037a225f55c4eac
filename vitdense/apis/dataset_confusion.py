"""The confusion matrix of a config's test set, from tools/test.py's predictions or from a
checkpoint run over that set (``tools/analysis/confusion_matrix.py``)."""
import os.path as osp
import pickle
from dataclasses import dataclass

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import BaseDataset, pseudo_collate
from mmengine.registry import DefaultScope

from vitdense.evaluation.confusion_matrix import add_detections, add_segmentation
from vitdense.registry import DATASETS, TRANSFORMS

from .inference import init_model

PICKLE_SUFFIXES = ('.pkl', '.pickle')


@dataclass(frozen=True)
class Confusion:
    """Attributes:
        matrix: counts, rows = ground truth, columns = prediction.
        labels: the name of each row and column (detection: the classes, then 'background').
        task: 'detection' or 'segmentation'.
        images: how many images were counted.
    """

    matrix: np.ndarray
    labels: list[str]
    task: str
    images: int


def build_test_dataset(cfg: Config) -> BaseDataset:
    """The dataset of ``cfg.test_dataloader``, with its test pipeline."""
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'vitdense')):
        return DATASETS.build(cfg.test_dataloader.dataset)


def load_predictions(path: str) -> list[dict]:
    """The predictions that ``tools/test.py --out FILE`` dumped (one dict per image)."""
    with open(path, 'rb') as f:
        results = pickle.load(f)
    if not isinstance(results, list) or not results or not isinstance(results[0], dict) or not (
            'pred_instances' in results[0] or 'pred_sem_seg' in results[0]):
        raise ValueError(f'{path!r} does not hold tools/test.py predictions (a list of dicts '
                         'with pred_instances or pred_sem_seg): write them with '
                         'tools/test.py CONFIG CHECKPOINT --out FILE.pkl')
    return results


def predict_dataset(model: torch.nn.Module, dataset: BaseDataset,
                    batch_size: int = 1) -> list[dict]:
    """``model``'s predictions on every sample of ``dataset``, in order, as the dicts
    tools/test.py dumps. Batches are padded together, so give the test dataloader's batch size
    to get tools/test.py's numbers exactly."""
    results = []
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            results += [sample.cpu().to_dict() for sample in model.test_step(pseudo_collate(batch))]
    return results


def _numpy(value) -> np.ndarray:
    return value.cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def dataset_confusion(cfg: Config, predictions_or_checkpoint: str, score_thr: float = 0.3,
                      iou_thr: float = 0.5, device: str = 'cpu') -> Confusion:
    """Count the confusion matrix of ``cfg``'s test set.

    Args:
        predictions_or_checkpoint: a ``.pkl`` from ``tools/test.py --out`` (its images are
            matched to the dataset by path), or a checkpoint to run over the test set.
        score_thr, iou_thr: detection only (see :mod:`vitdense.evaluation.confusion_matrix`).

    Raises:
        ValueError: a prediction of an image the test set does not have, or a file that holds
            no predictions.
    """
    dataset = build_test_dataset(cfg)
    if osp.splitext(predictions_or_checkpoint)[1] in PICKLE_SUFFIXES:
        results = load_predictions(predictions_or_checkpoint)
    else:
        model = init_model(cfg, predictions_or_checkpoint, device)
        results = predict_dataset(model, dataset, cfg.test_dataloader.get('batch_size', 1))
    by_path = {dataset.get_data_info(i)['img_path']: i for i in range(len(dataset))}
    classes = list(dataset.metainfo['classes'])
    detection = 'pred_instances' in results[0]
    size = len(classes) + 1 if detection else len(classes)
    matrix = np.zeros((size, size), dtype=np.int64)
    load_labels = TRANSFORMS.build(dict(type='LoadAnnotations', with_bbox=False,
                                        with_label=False, with_seg=True))
    for result in results:
        if result['img_path'] not in by_path:
            raise ValueError(f"The predictions hold {result['img_path']!r}, which is not in the "
                             "config's test set: were they made with another config or data?")
        info = dataset.get_data_info(by_path[result['img_path']])
        if detection:
            pred = result['pred_instances']
            gt = [i for i in info['instances'] if not i['ignore_flag']]
            ignored = [i['bbox'] for i in info['instances'] if i['ignore_flag']]
            add_detections(matrix, [i['bbox'] for i in gt], [i['bbox_label'] for i in gt],
                           _numpy(pred['bboxes']), _numpy(pred['scores']),
                           _numpy(pred['labels']), score_thr, iou_thr, ignored)
        else:
            label = load_labels(dict(info))['gt_seg_map']  # reduce_zero_label applied
            add_segmentation(matrix, label, _numpy(result['pred_sem_seg']['data'])[0])
    labels = classes + ['background'] if detection else classes
    return Confusion(matrix, labels, 'detection' if detection else 'segmentation', len(results))

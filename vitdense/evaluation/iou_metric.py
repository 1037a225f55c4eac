"""Semantic-segmentation aAcc / mIoU / mAcc, with mmseg 1.x's ``IoUMetric`` semantics."""
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from vitdense.evaluation.table import format_table
from vitdense.registry import METRICS


def area_stats(pred: torch.Tensor, label: torch.Tensor, num_classes: int,
               ignore_index: int) -> torch.Tensor:
    """Per-class pixel counts of one image, as mmseg's ``intersect_and_union``.

    Pixels whose label is ``ignore_index`` are dropped; labels or predictions outside
    ``0..num_classes-1`` are not counted in their own histogram (as ``torch.histc`` in mmseg).

    Args:
        pred: (H, W) predicted labels.
        label: (H, W) ground-truth labels.
        num_classes: number of classes K.
        ignore_index: label value to ignore.

    Returns:
        (4, K) int64 on the CPU: intersection, union, predicted area, label area.
    """
    if pred.shape != label.shape:
        raise ValueError(f'IoUMetric: prediction shape {tuple(pred.shape)} differs from the '
                         f'ground-truth shape {tuple(label.shape)}; predictions must be resized '
                         f'to the original image size.')
    valid = label != ignore_index
    pred, label = pred[valid].long(), label[valid].long()  # (P,) each

    def histogram(values: torch.Tensor) -> torch.Tensor:
        values = values[(values >= 0) & (values < num_classes)]
        return torch.bincount(values, minlength=num_classes)  # (K,)

    area_intersect = histogram(pred[pred == label])
    area_pred = histogram(pred)
    area_label = histogram(label)
    area_union = area_pred + area_label - area_intersect
    return torch.stack([area_intersect, area_union, area_pred, area_label]).cpu()  # (4, K)


def write_label_png(pred: torch.Tensor, path: str, reduce_zero_label: bool) -> None:
    """Write (H, W) predicted labels as a uint8 PNG in the dataset's own label values: shifted
    up by one where the dataset was read with ``reduce_zero_label`` (ADE20K: 0..149 -> 1..150,
    the evaluation server's format, where 0 is "other")."""
    labels = pred.cpu().numpy().astype(np.int64) + (1 if reduce_zero_label else 0)
    if labels.min(initial=0) < 0 or labels.max(initial=0) > 255:
        raise ValueError(f"IoUMetric: predicted labels {labels.min()}..{labels.max()} do not fit "
                         f"a uint8 PNG ('{path}').")
    if not cv2.imwrite(path, labels.astype(np.uint8)):
        raise OSError(f"IoUMetric: could not write '{path}'; check output_dir.")


def nan_mean_percent(values: np.ndarray) -> float:
    """Mean of the non-NaN ``values`` (K,) in percent, rounded to 2 decimals; NaN if all are."""
    mean = np.nanmean(values) if not np.isnan(values).all() else np.nan
    return float(np.round(mean * 100, 2))


@METRICS.register_module()
class IoUMetric(BaseMetric):
    """Pixel accuracy (aAcc), mean IoU (mIoU) and mean class accuracy (mAcc), in percent.

    A class absent from both ground truth and predictions has IoU NaN, and one absent from the
    ground truth has accuracy NaN; means skip NaN (``np.nanmean``), as in mmseg.

    ``mIoU`` is the mean over all classes, background included where the dataset has one as a
    class (Pascal VOC, shapes). Naming such classes in ``background_classes`` adds ``mIoU_fg``:
    the mean IoU over the other (foreground) classes, with the same NaN rule. Without
    ``background_classes`` no ``mIoU_fg`` is logged (it would equal ``mIoU``).

    Args:
        ignore_index: ground-truth label to ignore.
        iou_metrics: ``('mIoU',)``; nothing else is supported.
        nan_to_num: if set, replace NaN per-class values by it before averaging.
        background_classes: names, from ``dataset_meta['classes']``, of the classes left out of
            ``mIoU_fg``; they still count in ``aAcc``, ``mIoU`` and ``mAcc``.
        output_dir: if set, each prediction is also written there as a uint8 PNG named like its
            image (``<image name>.png``), in the label values of the dataset's files: with
            ``reduce_zero_label`` (ADE20K) shifted back up by one, 1..150, the format of the
            ADE20K evaluation server (as mmseg).
        format_only: only write the PNGs (needs ``output_dir``); no ground truth is read and no
            metric is computed (test sets without labels).
        collect_device: ``'cpu'`` or ``'gpu'``, for gathering results across ranks.
        prefix: metric-name prefix (none by default, as mmseg).
    """

    def __init__(self,
                 ignore_index: int = 255,
                 iou_metrics: Sequence[str] = ('mIoU',),
                 nan_to_num: float | None = None,
                 background_classes: Sequence[str] = (),
                 output_dir: str | None = None,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if format_only and not output_dir:
            raise ValueError('IoUMetric: format_only=True writes PNG predictions and computes no '
                             'metric, so it needs output_dir=<folder for the PNGs>.')
        names = [iou_metrics] if isinstance(iou_metrics, str) else list(iou_metrics)
        for name in names:
            if name != 'mIoU':
                raise ValueError(f"IoUMetric: iou_metrics entry '{name}' is not supported; only "
                                 f"'mIoU' is (it reports aAcc, mIoU and mAcc).")
        if isinstance(background_classes, str):
            raise TypeError(f"IoUMetric: background_classes must be a sequence of class names, "
                            f"got the string '{background_classes}'; write "
                            f"background_classes=('{background_classes}',).")
        self.ignore_index = ignore_index
        self.nan_to_num = nan_to_num
        self.background_classes = tuple(background_classes)
        self.output_dir = output_dir
        self.format_only = format_only

    def _classes(self) -> tuple[str, ...]:
        """``dataset_meta['classes']``, checked against ``background_classes``."""
        meta = self.dataset_meta or {}
        if 'classes' not in meta:
            raise ValueError("IoUMetric needs dataset_meta['classes']; the Runner sets it from "
                             'the dataset metainfo, or set metric.dataset_meta = '
                             'dict(classes=(...)) yourself.')
        classes = tuple(meta['classes'])
        unknown = [name for name in self.background_classes if name not in classes]
        if unknown:
            raise ValueError(f'IoUMetric: background_classes {unknown} are not among the '
                             f"dataset's classes {classes}; name classes of dataset_meta"
                             f"['classes'] (set by the dataset's metainfo).")
        if len(set(self.background_classes)) == len(classes):
            raise ValueError(f'IoUMetric: background_classes {self.background_classes} name '
                             f'every class, so mIoU_fg would average nothing.')
        return classes

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Accumulate per-image areas from ``pred_sem_seg.data`` and ``gt_sem_seg.data``
        (each (1, H, W) or (H, W)); write the PNGs with ``output_dir``."""
        num_classes = len(self._classes())
        if self.output_dir:
            os.makedirs(self.output_dir, exist_ok=True)
        for sample in data_samples:
            pred = torch.as_tensor(sample['pred_sem_seg']['data']).squeeze()  # (H, W)
            if self.output_dir:
                name = osp.splitext(osp.basename(sample['img_path']))[0] + '.png'
                path = osp.join(self.output_dir, name)
                write_label_png(pred, path, bool(sample.get('reduce_zero_label', False)))
                if self.format_only:  # the written file stands for the image's result
                    self.results.append(path)
                    continue
            label = torch.as_tensor(sample['gt_sem_seg']['data']).squeeze().to(pred.device)
            self.results.append(area_stats(pred, label, num_classes, self.ignore_index))

    def compute_metrics(self, results: list[torch.Tensor]) -> dict[str, float]:
        """Sum the areas over images; log a per-class IoU / Acc table.

        Returns:
            ``aAcc``, ``mIoU``, ``mAcc`` (and ``mIoU_fg`` with ``background_classes``) in
            percent, rounded to 2 decimals; nothing with ``format_only``.
        """
        classes = self._classes()
        if self.format_only:
            print_log(f'IoUMetric (format_only): {len(results)} PNG predictions written to '
                      f'{self.output_dir}', logger='current')
            return {}
        total = torch.zeros(4, len(classes), dtype=torch.int64)  # (4, K)
        for areas in results:
            total += areas
        total = total.double().numpy()
        intersect, union, _, label = total
        with np.errstate(divide='ignore', invalid='ignore'):
            per_class = {'IoU': intersect / union, 'Acc': intersect / label}
            a_acc = intersect.sum() / label.sum()
        if self.nan_to_num is not None:
            per_class = {k: np.nan_to_num(v, nan=self.nan_to_num) for k, v in per_class.items()}
        metrics = {'aAcc': float(np.round(a_acc * 100, 2))}
        for name, values in per_class.items():
            metrics[f'm{name}'] = nan_mean_percent(values)
        if self.background_classes:
            foreground = [name not in self.background_classes for name in classes]
            metrics['mIoU_fg'] = nan_mean_percent(per_class['IoU'][foreground])
        rows = [[name] + [f'{per_class[k][i] * 100:.2f}' for k in per_class]
                for i, name in enumerate(classes)]
        print_log('per class results:\n' + format_table(['Class', 'IoU', 'Acc'], rows),
                  logger='current')
        return metrics

"""Top-k classification accuracy, with mmpretrain 1.x's ``Accuracy`` names."""
from collections.abc import Sequence
from typing import Any

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from vitdense.evaluation.table import format_table
from vitdense.registry import METRICS


def topk_correct(scores: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Whether each label is among its row's ``k`` highest scores.

    Args:
        scores: (N, K) class scores.
        labels: (N,) class indices.
        k: how many top classes count as correct.

    Returns:
        (N,) bool.
    """
    if k > scores.shape[1]:
        raise ValueError(f'Accuracy: top-{k} needs at least {k} classes, but the predictions '
                         f'have {scores.shape[1]}; lower topk.')
    top = scores.topk(k, dim=1).indices  # (N, k)
    return (top == labels[:, None]).any(dim=1)  # (N,)


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy over single-label samples, in percent, logged as ``accuracy/top{k}``.

    Reads ``pred_score`` (K,) of each sample, or ``pred_label`` when there are no scores (top-1
    only), and ``gt_label`` (1,). Also logs a table of per-class top-1 accuracy (the recall of
    each ground-truth class; '-' for classes without samples).

    Args:
        topk: the k of each reported accuracy.
        collect_device: ``'cpu'`` or ``'gpu'``, for gathering results across ranks.
        prefix: metric-name prefix (``'accuracy'`` by default, as mmpretrain).
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: int | Sequence[int] = (1, ), collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or any(not isinstance(k, int) or k < 1 for k in self.topk):
            raise ValueError(f'Accuracy topk must be positive ints, got {topk}.')

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each sample's ``pred_score`` (or ``pred_label``) and ``gt_label``."""
        for sample in data_samples:
            if 'gt_label' not in sample:
                raise KeyError(f"Accuracy needs gt_label in every sample; "
                               f"'{sample.get('img_path')}' has only {sorted(sample)}.")
            result = dict(gt_label=torch.as_tensor(sample['gt_label']).reshape(-1)[:1].cpu())
            if 'pred_score' in sample:
                result['pred_score'] = torch.as_tensor(sample['pred_score']).float().cpu()
            elif 'pred_label' in sample:
                result['pred_label'] = torch.as_tensor(sample['pred_label']).reshape(-1)[:1].cpu()
            else:
                raise KeyError(f"Accuracy needs pred_score or pred_label in every sample; "
                               f"'{sample.get('img_path')}' has only {sorted(sample)}.")
            self.results.append(result)

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        """Returns ``top{k}`` per k in percent (the Evaluator adds the ``accuracy/`` prefix)."""
        labels = torch.cat([r['gt_label'] for r in results]).long()  # (N,)
        if all('pred_score' in r for r in results):
            scores = torch.stack([r['pred_score'] for r in results])  # (N, K)
            correct = {k: topk_correct(scores, labels, k) for k in {1, *self.topk}}
            num_classes = scores.shape[1]
        else:
            if self.topk != (1, ):
                raise ValueError(f'Accuracy topk={self.topk} needs pred_score in every sample; '
                                 'some samples have only pred_label.')
            preds = torch.cat([r['pred_label'] if 'pred_label' in r else
                               r['pred_score'].argmax().reshape(1) for r in results])  # (N,)
            correct = {1: preds.long() == labels}
            num_classes = int(preds.max()) + 1
        metrics = {f'top{k}': float(correct[k].float().mean()) * 100 for k in self.topk}
        self._log_per_class(correct[1], labels, max(num_classes, int(labels.max()) + 1))
        return metrics

    def _log_per_class(self, correct: torch.Tensor, labels: torch.Tensor,
                       num_classes: int) -> None:
        """Print a table of per-class top-1 accuracy (percent) and sample counts."""
        classes = tuple((self.dataset_meta or {}).get('classes', ()))
        if len(classes) < num_classes:
            classes += tuple(str(i) for i in range(len(classes), num_classes))
        counts = torch.bincount(labels, minlength=len(classes))  # (K,)
        hits = torch.bincount(labels[correct], minlength=len(classes))  # (K,)
        rows = [[name, f'{hits[i] / counts[i] * 100:.2f}' if counts[i] else '-', int(counts[i])]
                for i, name in enumerate(classes)]
        print_log('per class results:\n' + format_table(['Class', 'Acc', 'Count'], rows),
                  logger='current')

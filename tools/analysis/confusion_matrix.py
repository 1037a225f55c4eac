"""Confusion matrix of a detector or segmentor on its config's test set (mmdet's
confusion_matrix.py): a PNG (rows normalised to percent) and a CSV of the counts.

    python tools/analysis/confusion_matrix.py CONFIG PREDICTIONS.pkl|CHECKPOINT.pth \\
        --out-dir DIR [--score-thr 0.3] [--tp-iou-thr 0.5] [--cfg-options k=v ...]

PREDICTIONS.pkl is what ``tools/test.py CONFIG CHECKPOINT --out PREDICTIONS.pkl`` writes; a
checkpoint is run over the test set instead. Detection counts follow mmdet (a background row
for false positives, a background column for missed boxes); segmentation counts pixels. See
``vitdense/evaluation/confusion_matrix.py``.
"""
import argparse
import os.path as osp
from typing import Sequence

from mmengine.config import DictAction

from vitdense.apis import load_config
from vitdense.apis.dataset_confusion import Confusion, dataset_confusion
from vitdense.evaluation.confusion_matrix import write_confusion_csv
from vitdense.visualization.confusion_plot import plot_confusion_matrix


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file path')
    parser.add_argument('predictions', metavar='PREDICTIONS_OR_CHECKPOINT',
                        help='tools/test.py --out pickle (.pkl), or a checkpoint to run')
    parser.add_argument('--out-dir', required=True,
                        help='where confusion_matrix.png and confusion_matrix.csv go')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: predictions scoring less are left out')
    parser.add_argument('--tp-iou-thr', type=float, default=0.5,
                        help='detection: IoU at which a prediction matches a box')
    parser.add_argument('--cmap', default='Blues', help='matplotlib colour map')
    parser.add_argument('--device', default='cpu', help='where a checkpoint runs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Confusion:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    result = dataset_confusion(cfg, args.predictions, args.score_thr, args.tp_iou_thr,
                               args.device)
    png = osp.join(args.out_dir, 'confusion_matrix.png')
    csv = osp.join(args.out_dir, 'confusion_matrix.csv')
    title = f'Normalized confusion matrix ({result.task}, {result.images} images)'
    if result.task == 'detection':
        title += f'\nscore >= {args.score_thr}, IoU >= {args.tp_iou_thr}'
    plot_confusion_matrix(result.matrix, result.labels, png, title, args.cmap)
    write_confusion_csv(result.matrix, result.labels, csv)
    print(f'Wrote {png} and {csv}')
    return result


if __name__ == '__main__':
    main()

"""Curves and training time from mmengine's JSON logs (mmdet's analyze_logs).

    python tools/analysis/analyze_logs.py plot_curve LOG.json [LOG2.json ...] \\
        --keys loss lr coco/bbox_mAP --out curves.png [--legend run1 run2] [--title T]
    python tools/analysis/analyze_logs.py cal_train_time LOG.json [...] [--include-outliers]

A LOG is a ``<work_dir>/<timestamp>/vis_data/scalars.json`` (or a work dir: its newest run, with
the runs it resumed from). ``plot_curve`` draws one panel per key against the iteration, a line
per log; validation metrics sit at the iteration they were computed after.
"""
import argparse
from typing import Sequence

from vitdense.visualization.learning_curves import RunLog, load_run
from vitdense.visualization.log_analysis import format_train_time, plot_keys, train_time


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='plot logged keys against the iteration')
    plot.add_argument('logs', nargs='+', help='scalars.json files (or work dirs)')
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='keys to plot, one panel each (default: loss)')
    plot.add_argument('--legend', nargs='+', help='a name per log (default: its work dir)')
    plot.add_argument('--title', help='a title above the panels')
    plot.add_argument('--out', required=True, help='the PNG to write')
    time = sub.add_parser('cal_train_time', help='training time per iteration')
    time.add_argument('logs', nargs='+', help='scalars.json files (or work dirs)')
    time.add_argument('--include-outliers', action='store_true',
                      help='count the first logged line (data loader start-up) too')
    return parser.parse_args(argv)


def load_logs(paths: list[str], legend: list[str] | None) -> list[RunLog]:
    if legend is not None and len(legend) != len(paths):
        raise SystemExit(f'--legend has {len(legend)} names for {len(paths)} logs: give one '
                         'per log.')
    runs = [load_run(path) for path in paths]
    if legend:
        runs = [RunLog(name, run.paths, run.lines) for name, run in zip(legend, runs)]
    labels = [run.label for run in runs]
    if len(set(labels)) < len(labels):  # the same work dir name: tell them apart by path
        runs = [RunLog(path, run.paths, run.lines) for path, run in zip(paths, runs)]
    return runs


def main(argv: Sequence[str] | None = None):
    args = parse_args(argv)
    if args.task == 'plot_curve':
        runs = load_logs(args.logs, args.legend)
        fig = plot_keys(runs, args.keys, args.out, args.title)
        print(f'Wrote {args.out}')
        return fig
    results = {}
    for run in load_logs(args.logs, None):
        results[run.label] = train_time(run.lines, args.include_outliers)
        print(format_train_time(' + '.join(run.paths), results[run.label]))
    return results


if __name__ == '__main__':
    main()

"""Plot validation metrics against training minutes for several runs, one panel per metric.

A run is a work dir (its newest training log, with the logs it resumed from) or a scalars.json,
optionally followed by ``:LABEL`` for the legend. The minutes are those TrainTimeHook logged
(``custom_hooks = [dict(type='TrainTimeHook')]``); without it they are estimated from the logged
iteration times, and the legend says so.

    python tools/analysis/plot_learning_curves.py work_dirs/fcos_a:abs work_dirs/fcos_b:rope \\
        --metric coco/bbox_mAP mIoU --out docs/learning_curves.png --title 'ViT-B, COCO + ADE'
"""
import argparse

from vitdense.visualization.learning_curves import (
    collect_curves,
    load_run,
    plot_learning_curves,
    shift,
    total_minutes,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', metavar='RUN[:LABEL]',
                        help='a work dir or a scalars.json, with an optional legend label')
    parser.add_argument('--metric', nargs='+', required=True,
                        help='validation metric keys, one panel each (e.g. coco/bbox_mAP mIoU)')
    parser.add_argument('--out', required=True, help='the PNG to write')
    parser.add_argument('--title', help='a title above the panels')
    parser.add_argument('--after', nargs='+', default=[], metavar='LABEL=RUN',
                        help="draw the run labelled LABEL after RUN's training minutes (a "
                             'stage started from RUN\'s weights); repeat a LABEL to add stages')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    runs = [load_run(run) for run in args.runs]
    for pair in args.after:
        label, sep, pre = pair.partition('=')
        matches = [i for i, run in enumerate(runs) if run.label == label]
        if not sep or not matches:
            raise SystemExit(f'--after {pair!r}: expected LABEL=RUN with LABEL one of '
                             f'{[run.label for run in runs]}')
        runs[matches[0]] = shift(runs[matches[0]], total_minutes(load_run(pre)))
    panels = collect_curves(runs, args.metric)
    plot_learning_curves(panels, args.out, args.title)
    print(f'Wrote {args.out}')


if __name__ == '__main__':
    main()

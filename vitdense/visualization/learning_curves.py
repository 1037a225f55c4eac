"""Learning curves: validation metrics against training minutes, read from mmengine's logs.

A run is a work dir (its newest ``<timestamp>/vis_data/scalars.json``, preceded by the logs it
resumed from) or one ``scalars.json``. The minutes are TrainTimeHook's ``train_minutes``; a run
logged without the hook gets minutes summed from the per-iteration ``time`` of its training
lines, an estimate that the legend marks: mmengine's iteration time is averaged over the
logger's window, and the iteration after a validation or a checkpoint also counts the evaluation
or the saving.
"""
import glob
import json
import os
import os.path as osp
import re
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vitdense.engine.train_time_hook import TRAIN_MINUTES_KEY

# Keys of a validation line that are not metrics.
_NOT_METRICS = {'time', 'data_time', 'step', 'epoch', 'iter', TRAIN_MINUTES_KEY}
_RESUMED = re.compile(r'resumed epoch: \d+, iter: (\d+)')


@dataclass(frozen=True)
class Curve:
    """One run's values of one metric, in the order validated.

    Attributes:
        label: the run's name in the legend.
        metric: the metric's key in scalars.json, e.g. ``coco/bbox_mAP``.
        minutes: training minutes at each validation.
        values: the metric at each validation.
        estimated: the minutes were summed from logged iteration times (no TrainTimeHook).
    """

    label: str
    metric: str
    minutes: list[float]
    values: list[float]
    estimated: bool


def read_scalars(path: str) -> list[dict]:
    """The lines of one ``scalars.json``, with ``val/`` and ``train/`` prefixes removed (as
    ``log_processor.log_with_hierarchy=True`` writes them)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path!r} does not exist.')
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return [{re.sub(r'^(val|train)/', '', k): v for k, v in line.items()} for line in lines]


def _resumed_at(log_dir: str) -> int | None:
    """The iteration a run resumed from, as mmengine wrote it into ``<stamp>/<stamp>.log``."""
    text_log = osp.join(log_dir, osp.basename(log_dir) + '.log')
    if not osp.isfile(text_log):
        return None
    with open(text_log) as f:
        found = _RESUMED.search(f.read())
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class RunLog:
    """What a run logged.

    Attributes:
        label: the run's name in the legend.
        paths: the scalars.json files read, oldest first.
        lines: their lines, one dict each, in logged order.
    """

    label: str
    paths: list[str]
    lines: list[dict]


def read_run(run: str) -> tuple[list[str], list[dict]]:
    """The scalars.json files of a run and their lines: a ``scalars.json`` file, or a work dir.

    For a work dir, its newest training log; if that run was resumed from iteration ``i``, the
    lines of the log before it up to iteration ``i`` come first (and so on back).
    """
    if osp.isfile(run):
        return [run], read_scalars(run)
    if not osp.isdir(run):
        raise FileNotFoundError(f'{run!r} is neither a work dir nor a scalars.json file.')
    paths = sorted(glob.glob(osp.join(run, '*', 'vis_data', 'scalars.json')))
    if not paths:
        raise FileNotFoundError(f'{run!r} has no <timestamp>/vis_data/scalars.json: did '
                                f'tools/train.py log into this work dir?')
    read = [paths.pop()]
    lines = read_scalars(read[0])
    while paths and (resumed := _resumed_at(osp.dirname(osp.dirname(read[0])))) is not None:
        read.insert(0, paths.pop())
        earlier = read_scalars(read[0])
        cut = next((i for i, line in enumerate(earlier) if line.get('iter', 0) > resumed),
                   len(earlier))
        lines = earlier[:cut] + lines
    return read, lines


def load_run(spec: str) -> RunLog:
    """A run given as ``RUN[:LABEL]``, RUN a work dir or a scalars.json; the label defaults to
    the work dir's name."""
    path, label = (spec, '') if osp.exists(spec) or ':' not in spec else spec.rsplit(':', 1)
    paths, lines = read_run(path)
    return RunLog(label or _work_dir_name(path), paths, lines)


def _work_dir_name(path: str) -> str:
    path = osp.abspath(path)
    if osp.isdir(path):
        return osp.basename(path)
    parent = osp.dirname(path)
    if osp.basename(parent) == 'vis_data':  # <work_dir>/<stamp>/vis_data/scalars.json
        return osp.basename(osp.dirname(osp.dirname(parent)))
    return osp.basename(parent)


def _training_minutes(lines: list[dict]) -> list[float]:
    """For each line, the minutes summed from the ``time`` (seconds per iteration, averaged
    over the logger's window) of the training lines before it."""
    seconds, last_iter, out = 0.0, 0, []
    for line in lines:
        if 'iter' in line and 'time' in line:
            seconds += line['time'] * (line['iter'] - last_iter)
            last_iter = line['iter']
        out.append(seconds / 60)
    return out


def validation_metrics(lines: list[dict]) -> list[str]:
    """The metric keys of the validation lines (those without an ``iter``), in logged order."""
    keys = dict.fromkeys(k for line in lines if 'iter' not in line for k in line)
    return [k for k in keys if k not in _NOT_METRICS]


def learning_curve(lines: list[dict], metric: str, label: str) -> Curve | None:
    """The points of ``metric`` in a run's lines, or None if it never logged ``metric``.

    The minutes are TrainTimeHook's if every point has them, else all estimated.
    """
    estimate = _training_minutes(lines)
    points = [(line, est) for line, est in zip(lines, estimate)
              if 'iter' not in line and metric in line]
    if not points:
        return None
    hooked = all(TRAIN_MINUTES_KEY in line for line, _ in points)
    return Curve(label, metric,
                 [line[TRAIN_MINUTES_KEY] if hooked else est for line, est in points],
                 [line[metric] for line, _ in points], estimated=not hooked)


def total_minutes(run: RunLog) -> float:
    """The training minutes a run spent in all: the last ``train_minutes`` it logged.

    Raises:
        ValueError: the run logged none (no TrainTimeHook, or no validation).
    """
    logged = [line[TRAIN_MINUTES_KEY] for line in run.lines if TRAIN_MINUTES_KEY in line]
    if not logged:
        raise ValueError(f"{' + '.join(run.paths)} logged no {TRAIN_MINUTES_KEY!r}: train it "
                         "with custom_hooks=[dict(type='TrainTimeHook')] and a validation at "
                         'its end to chain a run after it')
    return logged[-1]


def shift(run: RunLog, minutes: float) -> RunLog:
    """The run as if it started ``minutes`` later: a stage that starts from an earlier stage's
    weights (a detector fine-tuned from a pretraining) is drawn after that stage's minutes."""
    lines = [{**line, TRAIN_MINUTES_KEY: line[TRAIN_MINUTES_KEY] + minutes}
             if TRAIN_MINUTES_KEY in line else line for line in run.lines]
    return RunLog(run.label, run.paths, lines)


def collect_curves(runs: list[RunLog], metrics: list[str]) -> list[list[Curve]]:
    """For each metric, the curves of the runs that logged it.

    Raises:
        ValueError: a metric that no run logged, or a run that logged none of the metrics;
            the message names the files and the metrics they hold.
    """
    labels = [run.label for run in runs]
    for label in set(labels):
        if labels.count(label) > 1:
            raise ValueError(f'{labels.count(label)} runs are labelled {label!r}: name them '
                             f'apart with RUN:LABEL.')

    def present(run: RunLog) -> str:
        return f"{' + '.join(run.paths)} has {validation_metrics(run.lines) or 'no metrics'}"

    panels = [[c for run in runs if (c := learning_curve(run.lines, m, run.label))]
              for m in metrics]
    for metric, curves in zip(metrics, panels):
        if not curves:
            raise ValueError(f'No run logged the metric {metric!r} in a validation: '
                             + '; '.join(present(run) for run in runs))
    for run in runs:
        if not any(c.label == run.label for curves in panels for c in curves):
            raise ValueError(f'Run {run.label!r} logged none of {metrics}: {present(run)}')
    return panels


def plot_learning_curves(panels: list[list[Curve]], out: str, title: str | None = None) -> Figure:
    """Draw one panel per metric, side by side, save the figure to ``out`` (a PNG), return it.

    A run keeps its colour in every panel; minutes estimated from iteration times are drawn
    dashed and marked in the legend.
    """
    labels = list(dict.fromkeys(c.label for curves in panels for c in curves))
    colors = {label: f'C{i % 10}' for i, label in enumerate(labels)}
    fig = Figure(figsize=(5.5 * len(panels), 4.2), layout='constrained')
    FigureCanvasAgg(fig)
    for ax, curves in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        for c in curves:
            label = f'{c.label} (minutes estimated from iter times)' if c.estimated else c.label
            ax.plot(c.minutes, c.values, marker='o', markersize=4, color=colors[c.label],
                    linestyle='--' if c.estimated else '-', label=label)
        ax.set_xlabel('training minutes')
        ax.set_ylabel(curves[0].metric)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize='small')
    return save_figure(fig, out, title)


def save_figure(fig: Figure, out: str, title: str | None = None) -> Figure:
    """Title ``fig``, write it to ``out`` (a PNG; its folder is made) and return it."""
    if title:
        fig.suptitle(title)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    return fig

"""mmdet's ``analyze_logs`` on mmengine's ``vis_data/scalars.json`` logs: any logged key
(loss, lr, a metric) against the training iteration, and training-time statistics.

The logs are read by :func:`vitdense.visualization.learning_curves.load_run` (a scalars.json
file or a work dir, ``val/`` and ``train/`` prefixes removed). A training line's iteration is its
``step``; a validation line (no ``iter``) is placed at the iteration of the training line before
it, since mmengine logs it with ``step`` = epoch (0 in iteration-based training) by default.
"""
import statistics
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .learning_curves import RunLog, save_figure, validation_metrics


def key_series(lines: list[dict], key: str) -> tuple[list[int], list[float]]:
    """The iterations and values of ``key`` in a run's lines (training or validation)."""
    xs, ys, last_iter = [], [], 0
    for line in lines:
        if 'iter' in line:
            last_iter = line.get('step', line['iter'])
        if key in line:
            xs.append(last_iter)
            ys.append(float(line[key]))
    return xs, ys


def logged_keys(lines: list[dict]) -> list[str]:
    """The keys of the training lines, then the validation metrics, in logged order."""
    train = dict.fromkeys(k for line in lines if 'iter' in line for k in line)
    skip = {'iter', 'step', 'epoch'}
    return [k for k in train if k not in skip] + validation_metrics(lines)


def plot_keys(runs: list[RunLog], keys: list[str], out: str, title: str | None = None) -> Figure:
    """One panel per key, a line per run (labelled with its ``label``), against the training
    iteration; saved to ``out`` (a PNG) and returned.

    Raises:
        ValueError: a key that no run logged, or one that a run lacks; the message lists what
            that run logged.
    """
    for key in keys:
        for run in runs:
            if not key_series(run.lines, key)[0]:
                raise ValueError(f"{' + '.join(run.paths)} did not log {key!r}; it logged "
                                 f'{logged_keys(run.lines)}')
    fig = Figure(figsize=(5.5 * len(keys), 4.2), layout='constrained')
    FigureCanvasAgg(fig)
    for ax, key in zip(fig.subplots(1, len(keys), squeeze=False)[0], keys):
        for i, run in enumerate(runs):
            xs, ys = key_series(run.lines, key)
            validation = not any(key in line for line in run.lines if 'iter' in line)
            ax.plot(xs, ys, color=f'C{i % 10}', label=run.label,
                    marker='o' if validation or len(xs) < 30 else None, markersize=4)
        ax.set_xlabel('iteration')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize='small')
    return save_figure(fig, out, title)


@dataclass(frozen=True)
class TrainTime:
    """Training-time figures of a run, from the ``time`` of its training lines (mmengine's
    seconds per iteration, averaged over the logger's window).

    Attributes:
        lines: training lines used (the first is left out unless outliers are included: it
            counts the start of the data loader workers).
        mean_s, std_s: mean and standard deviation of ``time`` over those lines.
        slowest, fastest: (iteration, seconds) of the slowest and fastest line.
        total_minutes: ``time`` times the iterations each line stands for, summed, all lines.
    """

    lines: int
    mean_s: float
    std_s: float
    slowest: tuple[int, float]
    fastest: tuple[int, float]
    total_minutes: float


def train_time(lines: list[dict], include_outliers: bool = False) -> TrainTime:
    """Training-time figures of a run's lines (see :class:`TrainTime`).

    Raises:
        ValueError: the run has no training lines with a ``time``.
    """
    timed = [(line.get('step', line['iter']), float(line['time'])) for line in lines
             if 'iter' in line and 'time' in line]
    if not timed:
        raise ValueError('The log has no training lines with a time: is it a test log?')
    total, last = 0.0, 0
    for it, seconds in timed:
        total += seconds * (it - last)
        last = it
    used = timed if include_outliers or len(timed) == 1 else timed[1:]
    times = [s for _, s in used]
    return TrainTime(len(used), statistics.fmean(times),
                     statistics.pstdev(times), max(used, key=lambda t: t[1]),
                     min(used, key=lambda t: t[1]), total / 60)


def format_train_time(label: str, t: TrainTime) -> str:
    """mmdet's ``cal_train_time`` report, per logged line rather than per epoch."""
    return '\n'.join([
        f'-----Analyze train time of {label}-----',
        f'slowest logged iteration: {t.slowest[0]}, {t.slowest[1]:.4f} s/iter',
        f'fastest logged iteration: {t.fastest[0]}, {t.fastest[1]:.4f} s/iter',
        f'time std over {t.lines} logged lines: {t.std_s:.4f}',
        f'average iter time: {t.mean_s:.4f} s/iter',
        f'training time (summed over the logged windows): {t.total_minutes:.2f} min'])

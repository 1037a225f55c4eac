"""Soak test: a long training with validation, then evaluations at several image sizes in turn,
all in one process, recording resident memory, open files and step time (ResourceMonitorHook).

    python tools/analysis/soak.py CONFIG --iters 2000 --val-interval 200 \
        [--eval-scales 0.5 0.625 ...] [--work-dir DIR] [--amp] [--cfg-options k=v ...]

Writes, in the run's log dir: ``resources.jsonl`` (the hook's lines), ``soak.json`` (the summary
below) and ``soak.png`` (memory, open files and step time against the iteration, the
evaluations at the end). Prints the summary: memory and open files after the first validation
and at the end, their growth per 1000 iterations (least squares over the training lines after
the first validation, and over their second half: a warm-up slows down, a leak does not), and
the throughput at the end over the throughput at the start (median
step time of the first and the last ``--window`` training lines after warm-up).

The evaluations use the config's test loader resized by each scale after its own resize
(``vitdense.apis.resolution.zoom_cfg``), one after the other in the training process, so that
the per-size caches of the position encodings and attention are exercised.
"""
import argparse
import json
import os.path as osp
import statistics

from mmengine.config import DictAction
from mmengine.runner.loops import TestLoop

from vitdense.apis import prepare_train_cfg
from vitdense.apis.launch import build_runner
from vitdense.apis.resolution import zoom_cfg
from vitdense.engine.resource_monitor_hook import ResourceMonitorHook

DEFAULT_SCALES = (0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5, 1.75)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=2000)
    parser.add_argument('--val-interval', type=int, default=200)
    parser.add_argument('--eval-scales', type=float, nargs='*', default=list(DEFAULT_SCALES),
                        help='test-size factors evaluated in turn after training (none: skip)')
    parser.add_argument('--interval', type=int, default=20, help='iterations between samples')
    parser.add_argument('--window', type=int, default=5,
                        help='training samples at each end compared for the throughput ratio')
    parser.add_argument('--work-dir')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast on CPU, AMP on GPU')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def _slope_per_1000(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of (iteration, value) per 1000 iterations; 0 with < 2 points."""
    if len(points) < 2:
        return 0.0
    xs, ys = zip(*points)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 1000 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def summarise(lines: list[dict], window: int) -> dict:
    """The soak's figures from the hook's lines (see the module docstring)."""
    train = [ln for ln in lines if ln['phase'] == 'train']
    first_val = next((ln['iter'] for ln in lines if ln['phase'] == 'val'), 0)
    settled = [ln for ln in train if ln['iter'] > first_val] or train
    if len(train) < 2 * window + 1:
        raise ValueError(f'soak: {len(train)} training samples; the throughput ratio needs more '
                         f'than 2 x --window ({window}): train longer or sample more often.')
    start = statistics.median(ln['step_s'] for ln in train[1:window + 1])  # [0]: warm-up
    end = statistics.median(ln['step_s'] for ln in train[-window:])
    total = [(ln['iter'], ln['rss_mb'] + ln['workers_rss_mb']) for ln in settled]
    return dict(
        iters=train[-1]['iter'],
        rss_mb_after_first_val=settled[0]['rss_mb'], rss_mb_end=lines[-1]['rss_mb'],
        rss_mb_max=max(ln['rss_mb'] for ln in lines),
        total_rss_mb_growth_per_1000_iters=round(_slope_per_1000(total), 2),
        rss_mb_growth_per_1000_iters=round(
            _slope_per_1000([(ln['iter'], ln['rss_mb']) for ln in settled]), 2),
        # A warm-up to a plateau slows down; a leak does not.
        rss_mb_growth_per_1000_iters_second_half=round(_slope_per_1000(
            [(ln['iter'], ln['rss_mb']) for ln in settled[len(settled) // 2:]]), 2),
        open_fds_after_first_val=settled[0]['open_fds'], open_fds_end=lines[-1]['open_fds'],
        open_fds_max=max(ln['open_fds'] for ln in lines),
        step_s_start=start, step_s_end=end, throughput_end_over_start=round(start / end, 3),
        evals=[ln for ln in lines if ln['phase'].startswith('eval')])


def plot(lines: list[dict], out: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from vitdense.visualization.learning_curves import save_figure
    train = [ln for ln in lines if ln['phase'] == 'train']
    vals = [ln for ln in lines if ln['phase'] == 'val']
    evals = [ln for ln in lines if ln['phase'].startswith('eval')]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    x = [ln['iter'] for ln in train]
    ax = axes[0, 0]
    ax.plot(x, [ln['rss_mb'] for ln in train], label='main process')
    ax.plot(x, [ln['workers_rss_mb'] for ln in train], label='loader workers (sum)')
    ax.scatter([ln['iter'] for ln in vals], [ln['rss_mb'] for ln in vals], marker='x',
               color='k', label='main, after a validation')
    ax.set_ylabel('resident memory (MiB)')
    ax.legend(loc='lower right')
    axes[0, 1].plot(x, [ln['open_fds'] for ln in train])
    axes[0, 1].set_ylabel('open file descriptors (main process)')
    axes[1, 0].plot(x, [ln['step_s'] for ln in train])
    axes[1, 0].set_ylabel('median step time (s)')
    for ax in (axes[0, 0], axes[0, 1], axes[1, 0]):
        ax.set_xlabel('training iteration')
    ax = axes[1, 1]
    ax.plot(range(len(evals)), [ln['rss_mb'] for ln in evals], marker='o')
    ax.set_xticks(range(len(evals)), [f"x{ln['scale']:g}" for ln in evals])
    ax.set_xlabel('evaluations after training, in turn (test size factor)')
    ax.set_ylabel('resident memory after it (MiB)')
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    save_figure(fig, out, 'Soak run: memory, files and step time')


def main() -> None:
    args = parse_args()
    options = dict(args.cfg_options or {})
    options.update({'train_cfg.max_iters': args.iters, 'train_cfg.val_interval': args.val_interval})
    cfg = prepare_train_cfg(args.config, args.work_dir, amp=args.amp, cfg_options=options)
    hook = ResourceMonitorHook(interval=args.interval)
    runner = build_runner(cfg)
    runner.register_hook(hook)
    runner.train()
    for scale in args.eval_scales:
        scaled = zoom_cfg(cfg, scale, where=args.config)
        loop = TestLoop(runner, scaled.test_dataloader, scaled.test_evaluator)
        metrics = loop.run()
        hook.record(runner, f'eval@{scale:g}', scale=scale,
                    metrics={k: round(float(v), 4) for k, v in metrics.items()
                             if isinstance(v, (int, float))})
    with open(hook.path) as f:
        lines = [json.loads(ln) for ln in f]
    summary = summarise(lines, args.window)
    out = osp.join(runner.log_dir, 'soak')
    with open(out + '.json', 'w') as f:
        json.dump(summary, f, indent=1)
    plot(lines, out + '.png')
    print(json.dumps({k: v for k, v in summary.items() if k != 'evals'}, indent=1))
    for ln in summary['evals']:
        print(ln['phase'], 'rss_mb', ln['rss_mb'], 'open_fds', ln['open_fds'], ln['metrics'])
    print(f'wrote {out}.json and {out}.png')


if __name__ == '__main__':
    main()

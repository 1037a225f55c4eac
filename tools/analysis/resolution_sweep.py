"""Evaluate models at several test resolutions: which position encoding holds up?

    python tools/analysis/resolution_sweep.py CONFIG CHECKPOINT [CONFIG CHECKPOINT ...] \
        --scales 0.5 0.75 1 1.25 1.5 2 [--aspects 0.5 1 2] [--mode zoom canvas] \
        [--names abs rope] [--max-images 100] [--out-dir work_dirs/resolution_sweep]

For every model, mode, scale and aspect, the model is tested (mmengine's Runner, the config's
test evaluator) with the resolution changed as ``vitdense/apis/resolution.py`` says:
``zoom`` resizes the val images (objects grow with the grid), ``canvas`` draws shapes val sets
on larger or smaller canvases with the default object sizes (only the grid changes; the sets are
drawn once, under OUT_DIR/canvas_SCALE or --canvas-dir). Writes OUT_DIR/sweep.json (every
metric), sweep.csv (the headline metric) and sweep.png (headline metric against scale, a panel
per mode, a line per model and aspect). Points already in sweep.json are skipped, so an
interrupted sweep resumes; ``--force`` recomputes them.
"""
import argparse
import csv
import json
import os
import os.path as osp

from mmengine.config import DictAction

from vitdense.apis.launch import load_config
from vitdense.apis.resolution import (
    MODES,
    SweepPoint,
    canvas_val,
    evaluate,
    limit_images,
    primary_metric,
    shapes_val_settings,
    sweep_cfg,
)
from vitdense.utils.progress import progress_bar


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('pairs', nargs='+', metavar='CONFIG CHECKPOINT')
    parser.add_argument('--scales', nargs='+', type=float, default=[0.5, 0.75, 1, 1.25, 1.5, 2])
    parser.add_argument('--aspects', nargs='+', type=float, default=[1.0],
                        help='width / height stretch (zoom mode only)')
    parser.add_argument('--mode', nargs='+', choices=MODES, default=['zoom'])
    parser.add_argument('--names', nargs='+', help='legend names, one per model (default: '
                        'the config file names)')
    parser.add_argument('--max-images', type=int, help='test on the first N val images only')
    parser.add_argument('--out-dir', default='work_dirs/resolution_sweep')
    parser.add_argument('--canvas-dir', help='where the canvas val sets are drawn (OUT_DIR)')
    parser.add_argument('--force', action='store_true', help='recompute points already done')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override keys of every config, e.g. test_dataloader.batch_size=4')
    args = parser.parse_args(argv)
    if len(args.pairs) % 2:
        parser.error(f'give CONFIG CHECKPOINT pairs; got {len(args.pairs)} paths: {args.pairs}')
    models = list(zip(args.pairs[::2], args.pairs[1::2]))
    for config, checkpoint in models:
        for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
            if not osp.isfile(path):
                parser.error(f'{what} {path!r} does not exist')
    names = args.names or [osp.splitext(osp.basename(c))[0] for c, _ in models]
    if len(names) != len(models) or len(set(names)) != len(names):
        parser.error(f'--names needs one distinct name per model ({len(models)}), got {names}')
    if 'canvas' in args.mode and any(a != 1 for a in args.aspects):
        parser.error('--aspects other than 1 work with --mode zoom only (canvas mode keeps the '
                     "generator's aspect distribution)")
    args.models = [(n, c, k) for n, (c, k) in zip(names, models)]
    return args


def load_points(path: str) -> dict:
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        points = [SweepPoint(**p) for p in json.load(f)]
    return {p.key(): p for p in points}


def save(points: list[SweepPoint], out_dir: str) -> None:
    points = sorted(points, key=SweepPoint.key)
    tmp = osp.join(out_dir, 'sweep.json.tmp')
    with open(tmp, 'w') as f:
        json.dump([p.to_dict() for p in points], f, indent=1)
    os.replace(tmp, osp.join(out_dir, 'sweep.json'))
    with open(osp.join(out_dir, 'sweep.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['model', 'mode', 'scale', 'aspect', 'metric', 'value'])
        for p in points:
            writer.writerow([p.model, p.mode, p.scale, p.aspect, p.metric, f'{p.value:.4f}'])


def plot(points: list[SweepPoint], path: str, title: str | None = None) -> None:
    """Headline metric against scale: a row of panels per metric (mAP and mIoU live on different
    scales), a column per mode, a line per model (and aspect)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    modes = sorted({p.mode for p in points}, key=MODES.index)
    metrics = list(dict.fromkeys(p.metric for p in points))
    fig, axes = plt.subplots(len(metrics), len(modes), figsize=(5.5 * len(modes),
                                                                 4.2 * len(metrics)),
                             squeeze=False)
    styles = ['-', '--', ':', '-.']
    aspects = sorted({p.aspect for p in points})
    models = list(dict.fromkeys(p.model for p in points))
    colours = plt.get_cmap('tab20' if len(models) > 10 else 'tab10')
    titles = {'zoom': 'zoom: images resized (objects grow)',
              'canvas': 'canvas: larger canvas, same object sizes'}
    for row, metric in enumerate(metrics):
        for ax, mode in zip(axes[row], modes):
            for m, model in enumerate(models):
                for a, aspect in enumerate(aspects):
                    line = sorted((p.scale, p.value) for p in points if p.metric == metric and
                                  (p.model, p.mode, p.aspect) == (model, mode, aspect))
                    if not line:
                        continue
                    label = model if len(aspects) == 1 else f'{model} (aspect {aspect:g})'
                    ax.plot([s for s, _ in line], [v for _, v in line], styles[a % len(styles)],
                            marker='o', ms=3, color=colours(m % colours.N), label=label)
            ax.set_xscale('log', base=2)
            scales = sorted({p.scale for p in points if p.mode == mode})
            ax.set_xticks(scales, [f'{s:g}' for s in scales])
            ax.axvline(1.0, color='grey', lw=0.8, ls=':')
            ax.set_xlabel("test scale (x the config's test resize)")
            ax.set_ylabel(metric)
            ax.set_title(titles[mode], fontsize=10)
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> list[SweepPoint]:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    done = {} if args.force else load_points(osp.join(args.out_dir, 'sweep.json'))
    todo = [(n, c, k, mode, s, a) for n, c, k in args.models for mode in args.mode
            for s in args.scales for a in (args.aspects if mode == 'zoom' else [1.0])]
    points = dict(done)
    bar = progress_bar(len(todo), desc='resolution sweep', unit='eval')
    for name, config, checkpoint, mode, scale, aspect in todo:
        bar.update(1)
        key = (name, mode, round(scale, 6), round(aspect, 6))
        if key in done:
            continue
        bar.set_postfix_str(f'{name} {mode} x{scale:g}')
        cfg = limit_images(load_config(config, args.cfg_options), args.max_images)
        canvas_root = None
        if mode == 'canvas':
            seed, num_val = shapes_val_settings(cfg)
            canvas_root = canvas_val(args.canvas_dir or args.out_dir, scale, seed,
                                     args.max_images or num_val)
        point_cfg = sweep_cfg(cfg, mode, scale, aspect, canvas_root, config)
        work_dir = osp.join(args.out_dir, 'work', name, f'{mode}_{scale:g}_{aspect:g}')
        metrics = evaluate(point_cfg, checkpoint, work_dir)
        metric, value = primary_metric(metrics)
        points[key] = SweepPoint(name, mode, scale, aspect, metric, value,
                                 {k: float(v) for k, v in metrics.items()
                                  if isinstance(v, (int, float))})
        save(list(points.values()), args.out_dir)  # after every point: resumable
    bar.close()
    result = sorted(points.values(), key=SweepPoint.key)
    save(result, args.out_dir)
    plot(result, osp.join(args.out_dir, 'sweep.png'))
    for p in result:
        print(f'{p.model:30s} {p.mode:6s} scale {p.scale:5g} aspect {p.aspect:4g}  '
              f'{p.metric} {p.value:.4f}')
    print(f'Wrote {args.out_dir}/sweep.json, sweep.csv, sweep.png')
    return result


if __name__ == '__main__':
    main()

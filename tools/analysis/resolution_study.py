"""The resolution study, resumably: train one model per position-encoding family and task, then
sweep every model over test scales, and write the tables and plots under docs/resolution/
({task}_sweep.json / .csv / .png, {task}_table.md; evaluation logs and the canvas val sets stay
under the work root).

    python tools/analysis/resolution_study.py [--tasks seg det] [--families none abs rope_mixed]
        [--seeds 0] [--second-seed none abs rope_mixed] [--scales 0.5 0.75 1 1.5 2]
        [--modes zoom canvas] [--max-images 100] [--out docs/resolution]
        [--work-root work_dirs/resolution]

A model whose last checkpoint exists is not trained again, and sweep points already measured are
not measured again (resolution_sweep.py's sweep.json), so the study can be spread over several
sittings: run the same command again. Configs: configs/resolution/
resolution_{task}-{family}_1xb4-demo_shapes.py; training
is ``tools/train.py CONFIG --amp`` with ``randomness.seed``. The tables report the headline
metric (mIoU, COCO mAP) per scale, and, where a family ran with two seeds, the spread that a
difference has to exceed to count.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

import resolution_sweep  # noqa: E402

from vitdense.apis import load_config  # noqa: E402
from vitdense.apis.resolution import base_test_size  # noqa: E402

FAMILIES = ('none', 'abs', 'sincos', 'abs_win', 'swin_bias', 'decomposed', 'irpe', 'cpe',
            'rope_axial', 'rope_mixed', 'vitdet')
TASKS = ('seg', 'det')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tasks', nargs='+', choices=TASKS, default=list(TASKS))
    parser.add_argument('--families', nargs='+', choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--second-seed', nargs='*', choices=FAMILIES, default=[],
                        help='families also trained with seed 1 (the seed spread)')
    parser.add_argument('--scales', nargs='+', type=float, default=[0.5, 0.75, 1, 1.5, 2])
    parser.add_argument('--modes', nargs='+', choices=('zoom', 'canvas'),
                        default=['zoom', 'canvas'])
    parser.add_argument('--max-images', type=int, help='sweep on the first N val images')
    parser.add_argument('--out', default='docs/resolution')
    parser.add_argument('--work-root', default='work_dirs/resolution')
    parser.add_argument('--train-only', action='store_true')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='passed to every training and evaluation (e.g. '
                             'train_cfg.max_iters=100)')
    return parser.parse_args(argv)


def runs(args) -> list[tuple[str, str, int]]:
    out = [(t, f, s) for t in args.tasks for f in args.families for s in args.seeds]
    out += [(t, f, 1) for t in args.tasks for f in args.second_seed
            if f in args.families and 1 not in args.seeds]
    return out


def config_path(task: str, family: str) -> str:
    """configs/resolution/resolution_{task}-{family}_1xb4-demo_shapes.py (mmdet's naming)."""
    return osp.join(ROOT, 'configs', 'resolution',
                    f"resolution_{task}-{family.replace('_', '-')}_1xb4-demo_shapes.py")


def last_checkpoint(work_dir: str) -> str | None:
    """The checkpoint of a finished training (mmengine's last_checkpoint pointer), or None."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        path = f.read().strip()
    return path if osp.isfile(path) and osp.isfile(osp.join(work_dir, 'DONE')) else None


def work_dir_of(task: str, family: str, seed: int, args) -> str:
    return osp.join(args.work_root, f'{task}_{family}_s{seed}')


def train(task: str, family: str, seed: int, args) -> str:
    """Train one model unless it is done; a segmentor starts from its family's detector of the
    same seed (trained first if it is not done), as the demo segmentor from the demo detector."""
    work_dir = work_dir_of(task, family, seed, args)
    ckpt = last_checkpoint(work_dir)
    if ckpt:
        return ckpt
    start = []
    if task == 'seg':
        train('det', family, seed, args)
        start = [f"model.init_cfg.checkpoint={work_dir_of('det', family, seed, args)}"]
    config = config_path(task, family)
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', work_dir,
           '--amp', '--cfg-options', f'randomness.seed={seed}', *start, *args.cfg_options]
    print('training:', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=ROOT))
    open(osp.join(work_dir, 'DONE'), 'w').close()
    return last_checkpoint(work_dir)


def name(family: str, seed: int) -> str:
    return family if seed == 0 else f'{family}_s{seed}'


def _table(value: dict, models: list, modes: list, scales: list, fmt) -> list[str]:
    """Markdown rows: a row per model, a column per mode and scale; then the seed spread of
    every model that has a ``{model}_s1`` twin (|seed 0 - seed 1| over the cells)."""
    head = ['model'] + [f'{m} x{s:g}' for m in modes for s in scales]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for model in models:
        cells = [fmt(value[model, m, s]) if (model, m, s) in value else '-'
                 for m in modes for s in scales]
        lines.append(f'| {model} | ' + ' | '.join(cells) + ' |')
    spreads = []
    for model in models:
        twin = f'{model}_s1'
        diffs = [abs(value[model, m, s] - value[twin, m, s]) for m in modes for s in scales
                 if (model, m, s) in value and (twin, m, s) in value]
        if twin in models and diffs:
            spreads.append((model, max(diffs), sum(diffs) / len(diffs)))
    if spreads:
        lines += ['', 'Seed spread (|seed 0 - seed 1|, over all modes and scales): ' +
                  '; '.join(f'{m}: max {fmt(a)}, mean {fmt(b)}' for m, a, b in spreads)]
    return lines


def write_table(points: list, path: str, task: str, base_size) -> None:
    """Markdown: the metric per model, mode and scale, then the same as a fraction of the
    model's own value at scale 1 in that mode (what a model keeps when the size changes, with
    its level divided out); each with the seed spread. Scale 1 is the test resize
    ``base_size`` of the models' configs."""
    modes = sorted({p.mode for p in points}, key=('zoom', 'canvas').index)
    scales = sorted({p.scale for p in points})
    models = list(dict.fromkeys(p.model for p in points))
    value = {(p.model, p.mode, p.scale): p.value for p in points if p.aspect == 1}
    metric = points[0].metric
    fmt = (lambda v: f'{v:.3f}') if metric.startswith('coco') else (lambda v: f'{v:.2f}')
    lines = [f'{task}: {metric} at each test scale (x the test resize {base_size} of the '
             'configs)', '', *_table(value, models, modes, scales, fmt)]
    kept = {(n, m, s): v / value[n, m, 1.0] for (n, m, s), v in value.items()
            if value.get((n, m, 1.0))}
    if kept and scales != [1.0]:
        lines += ['', f'{task}: {metric} as a fraction of the same model at x1 in that mode', '',
                  *_table(kept, models, modes, scales, lambda v: f'{v:.2f}')]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def main(argv=None) -> None:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    trained = {}
    for task, family, seed in runs(args):
        trained[task, family, seed] = train(task, family, seed, args)
    if args.train_only:
        return
    for task in args.tasks:
        models = [(name(f, s), config_path(t, f), ck)
                  for (t, f, s), ck in trained.items() if t == task]
        sweep = [p for _, config, ckpt in models for p in (config, ckpt)]
        sweep_dir = osp.join(args.work_root, f'sweep_{task}')
        opts = ['--names', *[n for n, _, _ in models], '--scales', *map(str, args.scales),
                '--mode', *args.modes, '--out-dir', sweep_dir,
                '--canvas-dir', osp.join(args.work_root, 'canvas')]
        if args.max_images:
            opts += ['--max-images', str(args.max_images)]
        if args.cfg_options:  # the data and loader settings the models were trained with
            opts += ['--cfg-options', *args.cfg_options]
        points = resolution_sweep.main(sweep + opts)
        for ext in ('json', 'csv', 'png'):  # the results, not the evaluation logs and data
            shutil.copyfile(osp.join(sweep_dir, f'sweep.{ext}'),
                            osp.join(args.out, f'{task}_sweep.{ext}'))
        size = base_test_size(load_config(models[0][1]), models[0][1])
        write_table(points, osp.join(args.out, f'{task}_table.md'), task, size)


if __name__ == '__main__':
    main()

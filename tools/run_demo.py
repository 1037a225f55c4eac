"""The `make demo` job: train and evaluate the demo detector and segmentor on `shapes`.

Each model is trained with tools/train.py and evaluated with tools/test.py (the real CLI, in
subprocesses); the script then prints one table and where the drawn predictions are.
"""
import argparse
import subprocess
import sys
import time

from vitdense.apis.demo import DEMO_JOBS, format_table, last_checkpoint, read_test_metrics


def run(cmd: list[str]) -> float:
    print('+', ' '.join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-root', default='work_dirs/demo')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra overrides for both trainings, e.g. train_cfg.max_iters=10')
    args = parser.parse_args()
    rows = []
    for job in DEMO_JOBS:
        work_dir = f'{args.work_root}/{job.name}'
        extra = ['--cfg-options', *args.cfg_options] if args.cfg_options else []
        train_s = run([sys.executable, 'tools/train.py', job.config, '--work-dir', work_dir,
                       '--amp', *extra])
        vis_dir = f'{work_dir}/vis'
        test_s = run([sys.executable, 'tools/test.py', job.config, last_checkpoint(work_dir),
                      '--work-dir', work_dir, '--show-dir', vis_dir])
        rows.append((job, train_s + test_s, read_test_metrics(work_dir), vis_dir))
    print(format_table(rows))


if __name__ == '__main__':
    main()

"""The `make demo` job: pretrain a ViT backbone on `shapes` object crops, fine-tune the demo
detector and segmentor from it, and evaluate all three on the val split.

Each model is trained with tools/train.py and evaluated with tools/test.py (the real CLI, in
subprocesses), in tools/train.py's default work dir for its config (work_dirs/<config name>), so
that each config also runs alone afterwards: the dense configs load the pretrained backbone
from its work dir. A job's test needs only its checkpoint, so it runs on one thread beside the
next job's training (a second thread buys a job ~1.2x on 2 cores, a second process ~2x;
docs/benchmarks.md), its output in ``<work dir>/test_stdout.log``; the last job's test runs in
the foreground. The script then prints one table and where the drawn predictions are.
"""
import argparse
import os
import subprocess
import sys
import time

from vitdense.apis.demo import DEMO_JOBS, format_table, last_checkpoint, read_test_metrics

# A detector this briefly trained scores its best boxes around 0.2 (mmdet's 0.3 would draw none).
SHOW_SCORE_THR = 0.15
# tools/test.py evaluates each model right after its training, so the validation that mmengine
# runs at the last training iteration would evaluate it twice (~1 minute of the 20 in all).
NO_VALIDATION_IN_TRAINING = 'train_cfg.val_begin=1000000000'


def test_command(job) -> tuple[list[str], str | None]:
    vis_dir = f'{job.work_dir}/vis' if job.draw else None
    cmd = [sys.executable, 'tools/test.py', job.config, last_checkpoint(job.work_dir),
           *(['--show-dir', vis_dir, '--show-score-thr', str(SHOW_SCORE_THR)] if vis_dir else [])]
    return cmd, vis_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra overrides for every training, e.g. '
                             'train_cfg.max_iters=100 (more than the 50 warm-up iterations)')
    args = parser.parse_args()
    start = time.perf_counter()
    background = []  # (job, its test process, the test's log)
    rows = []
    for i, job in enumerate(DEMO_JOBS):
        cmd = [sys.executable, 'tools/train.py', job.config, '--amp', '--cfg-options',
               NO_VALIDATION_IN_TRAINING, *args.cfg_options]
        print('+', ' '.join(cmd), flush=True)
        train_start = time.perf_counter()
        subprocess.run(cmd, check=True)
        cmd, vis_dir = test_command(job)
        rows.append((job, time.perf_counter() - train_start, vis_dir))
        print('+', ' '.join(cmd), flush=True)
        if i == len(DEMO_JOBS) - 1:
            subprocess.run(cmd, check=True)
            continue
        log = f'{job.work_dir}/test_stdout.log'
        print(f'  (beside the next training, on one thread; its output in {log})', flush=True)
        with open(log, 'w') as out:
            background.append((job, subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT,
                env=dict(os.environ, OMP_NUM_THREADS='1')), log))
    for job, proc, log in background:
        if proc.wait():
            with open(log) as f:
                tail = f.read().splitlines()[-20:]
            raise SystemExit('\n'.join(tail) + f"\nThe test of the demo's {job.name} job failed "
                             f'(exit {proc.returncode}); its whole output: {log}')
    print(format_table([(job, secs, read_test_metrics(job.work_dir), vis)
                        for job, secs, vis in rows]))
    print(f'Trained and tested in {(time.perf_counter() - start) / 60:.1f} min.')

if __name__ == '__main__':
    main()

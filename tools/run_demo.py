"""The `make demo` job: pretrain a ViT backbone on `shapes` object crops, fine-tune the demo
detector and segmentor from it, and evaluate all three on the val split.

Each model is trained with tools/train.py and evaluated with tools/test.py (the real CLI, in
subprocesses), in tools/train.py's default work dir for its config (work_dirs/<config name>), so
that each config also runs alone afterwards: the dense configs load the pretraining's backbone
from its work dir. The script then prints one table and where the drawn predictions are.
"""
import argparse
import subprocess
import sys
import time

from vitdense.apis.demo import DEMO_JOBS, format_table, last_checkpoint, read_test_metrics

# A detector this briefly trained scores its best boxes around 0.2 (mmdet's 0.3 would draw none).
SHOW_SCORE_THR = 0.15
# tools/test.py evaluates each model right after its training, so the validation that mmengine
# runs at the last training iteration would evaluate it twice (~1 minute of the 20 in all).
NO_VALIDATION_IN_TRAINING = 'train_cfg.val_begin=1000000000'


def run(cmd: list[str]) -> float:
    print('+', ' '.join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra overrides for every training, e.g. '
                             'train_cfg.max_iters=100 (more than the 50 warm-up iterations)')
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    for job in DEMO_JOBS:
        extra = ['--cfg-options', NO_VALIDATION_IN_TRAINING, *args.cfg_options]
        train_s = run([sys.executable, 'tools/train.py', job.config, '--amp', *extra])
        vis_dir = f'{job.work_dir}/vis' if job.draw else None
        # bf16 autocast as in training: the detector's test 29 -> 15 s, mAP 0.473 -> 0.472
        # (docs/benchmarks.md, issue 8's thirteenth round)
        test_s = run([sys.executable, 'tools/test.py', job.config, last_checkpoint(job.work_dir),
                      '--amp', *(['--tta'] if job.tta else []),
                      *(['--show-dir', vis_dir, '--show-score-thr', str(SHOW_SCORE_THR)]
                        if vis_dir else [])])
        rows.append((job, train_s + test_s, read_test_metrics(job.work_dir), vis_dir))
    print(format_table(rows))
    print(f'Trained and tested in {(time.perf_counter() - start) / 60:.1f} min.')


if __name__ == '__main__':
    main()

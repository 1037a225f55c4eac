"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]`` (mmdet's CLI)."""
import argparse
import os

from mmengine.config import DictAction

from vitdense.apis import evaluate, exit_without_teardown, prepare_test_cfg


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a vitdense model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where to save the evaluation logs')
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    parser.add_argument('--show-dir', help='write images with the predictions drawn here')
    parser.add_argument('--show-score-thr', type=float, default=0.3,
                        help='draw boxes scoring at least this (with --show-dir)')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_pipeline and tta_model")
    parser.add_argument('--amp', action='store_true',
                        help='autocast: bf16 on a CPU, fp16 on a GPU (as tools/train.py --amp)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. test_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='how the processes were started: torchrun '
                        '(pytorch), srun (slurm) or mpirun (mpi)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by torch.distributed.launch; LOCAL_RANK in the environment '
                        '(torchrun) wins')
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = prepare_test_cfg(args.config, args.checkpoint, args.work_dir, args.out, args.show_dir,
                           args.cfg_options, args.launcher, args.show_score_thr, args.tta,
                           args.amp)
    evaluate(cfg)
    exit_without_teardown(cfg)


if __name__ == '__main__':
    main()

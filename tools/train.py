"""Train a model from a config: ``python tools/train.py CONFIG [options]`` (mmdet's CLI)."""
import argparse
import os

from mmengine.config import DictAction

from vitdense.apis import exit_without_teardown, prepare_train_cfg, train


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a vitdense model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where to save logs and checkpoints')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from CKPT, or from the latest checkpoint in the work dir '
                             'when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: bf16 autocast on CPU, AMP on GPU')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help="scale the learning rate by the run's total batch (processes x "
                        'batch) over the auto_scale_lr.base_batch_size of the config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_epochs=3')
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
    cfg = prepare_train_cfg(args.config, args.work_dir, args.resume, args.amp, args.cfg_options,
                            args.launcher, args.auto_scale_lr)
    train(cfg)
    exit_without_teardown(cfg)


if __name__ == '__main__':
    main()

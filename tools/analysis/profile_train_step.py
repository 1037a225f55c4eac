"""Where the time of a training iteration goes, stage by stage, and the step's FLOP/s.

Builds the model, train dataloader and optim wrapper as ``tools/train.py`` would (``--amp``: bf16
autocast on CPU), runs ``--warmup`` then ``--iters`` iterations and prints the median time of each
stage (data loading + transforms with the configured workers, data preprocessor, backbone, neck,
head forward, loss + target assignment, backward, optimizer step), their sum against a plain
``model.train_step``, and the step's forward+backward FLOPs (``FlopCounterMode``) per second
against a dense 2048^3 matmul of the same dtype timed in the same run on the same threads.
The model is not initialised from ``init_cfg`` (no checkpoint needed). The last line is
``key=value`` pairs (times in ms).

``--data-only`` times the train dataloader alone, with 0 workers (loading in the main process)
and with the configured count.

    python tools/analysis/profile_train_step.py configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py \
        --amp --threads 2 --iters 20 --warmup 3
    python tools/analysis/profile_train_step.py CONFIG --data-only --iters 50
"""
import argparse

from mmengine.config import DictAction

from vitdense.apis.profiling import (
    format_data_profiles,
    format_step_profile,
    profile_data_loading,
    profile_train_step,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='training config file')
    parser.add_argument('--iters', type=int, default=10, help='timed iterations (median)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast, as train.py --amp')
    parser.add_argument('--threads', type=int, help="torch threads (default: torch's own)")
    parser.add_argument('--num-workers', type=int,
                        help="override the train dataloader's num_workers")
    parser.add_argument('--data-only', action='store_true',
                        help='time the train dataloader alone, 0 workers vs the configured ones')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.backbone.init_cfg=None')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.data_only:
        workers = None if args.num_workers is None else (args.num_workers, )
        profiles = profile_data_loading(args.config, args.iters, args.warmup, args.cfg_options,
                                        workers, args.threads)
        print(format_data_profiles(args.config, profiles))
        return
    profile = profile_train_step(args.config, args.iters, args.warmup, args.amp, args.threads,
                                 args.cfg_options, args.num_workers)
    print(format_step_profile(profile))


if __name__ == '__main__':
    main()

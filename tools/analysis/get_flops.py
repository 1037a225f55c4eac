"""FLOPs and parameters of a config's model at one input size, per module (mmdet's get_flops).

    python tools/analysis/get_flops.py CONFIG [--shape H W] [--depth 2] [--cfg-options ...]

Counts one forward pass in ``tensor`` mode with ``torch.utils.flop_counter.FlopCounterMode``
(a multiply-add is 2 FLOPs; no post-processing), on a random image padded as the config's data
preprocessor pads it. See ``vitdense/apis/complexity.py``.
"""
import argparse
from typing import Sequence

from mmengine.config import DictAction

from vitdense.apis import init_model, load_config
from vitdense.apis.complexity import Complexity, format_complexity, model_complexity


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=[1280, 800], metavar='SIZE',
                        help='input H W, or one size for a square (default: 1280 800, mmdet)')
    parser.add_argument('--depth', type=int, default=2,
                        help='modules down to this depth in the table (1: backbone, neck, head)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.backbone.arch=test')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Complexity:
    args = parse_args(argv)
    if len(args.shape) not in (1, 2):
        raise SystemExit(f'--shape takes H W or one size, got {args.shape}')
    height, width = args.shape * 2 if len(args.shape) == 1 else args.shape
    model = init_model(load_config(args.config, args.cfg_options), device=args.device)
    cost = model_complexity(model, height, width)
    print(format_complexity(cost, args.depth))
    return cost


if __name__ == '__main__':
    main()

"""Print a config as the tools read it: ``_base_`` files merged, ``--cfg-options`` applied.

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...] [--save-path FILE]
"""
import argparse
from typing import Sequence

from mmengine.config import Config, DictAction

from vitdense.apis import load_config


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_dataloader.batch_size=4')
    parser.add_argument('--save-path', help='also write the resolved config to this .py file')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Config:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    print(f'Config (path: {args.config}):\n{cfg.pretty_text}')
    if args.save_path:
        cfg.dump(args.save_path)
        print(f'Saved the resolved config to {args.save_path}')
    return cfg


if __name__ == '__main__':
    main()

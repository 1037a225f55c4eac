"""Draw a dataset's ground truth after its pipeline, to see what augmentation does (mmdet's
browse_dataset).

    python tools/analysis/browse_dataset.py CONFIG --out-dir DIR [--num 10] \\
        [--split train|val|test] [--seed 0] [--cfg-options k=v ...]

Writes ``DIR/<index>_<image name>.png``: the augmented image (as the model gets it, before
normalisation), boxes with their class or colour masks with a legend.
"""
import argparse
from typing import Sequence

from mmengine.config import DictAction

from vitdense.apis import load_config
from vitdense.visualization.browse import browse_dataset


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--out-dir', required=True, help='where the PNGs are written')
    parser.add_argument('--num', type=int, default=10, help='how many samples')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train',
                        help="the dataloader whose dataset and pipeline are drawn")
    parser.add_argument('--seed', type=int, default=0, help='seed of the random augmentation')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[str]:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    written = browse_dataset(cfg, args.out_dir, args.split, args.num, args.seed)
    print(f'Wrote {len(written)} images to {args.out_dir}')
    return written


if __name__ == '__main__':
    main()

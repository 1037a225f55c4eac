"""Predict on images and draw the predictions (mmdet's ``image_demo.py`` / ``DetInferencer``).

    python tools/infer.py CONFIG CHECKPOINT IMAGES_OR_FOLDER... --out-dir DIR \\
        [--score-thr 0.3] [--device cpu] [--cfg-options k=v ...]

Writes ``DIR/vis/<name>.png`` (boxes with class and score, or colour masks with a legend of the
classes present) and ``DIR/preds/<name>.json`` per image (see ``vitdense/apis/infer_files.py``).
"""
import argparse
from typing import Sequence

from mmengine.config import DictAction

from vitdense.apis import init_model, load_config
from vitdense.apis.image_files import expand_image_paths
from vitdense.apis.infer_files import infer_files


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('inputs', nargs='+', metavar='IMAGES_OR_FOLDER',
                        help='image files and folders of images (searched recursively)')
    parser.add_argument('--out-dir', required=True, help='where vis/ and preds/ are written')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw boxes scoring at least this (the JSON keeps all)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda, cuda:1')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.test_cfg.max_per_img=50')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    paths = expand_image_paths(args.inputs)
    model = init_model(load_config(args.config, args.cfg_options), args.checkpoint, args.device)
    records = infer_files(model, paths, args.out_dir, args.score_thr)
    print(f'Wrote {len(records)} drawings to {args.out_dir}/vis and their predictions to '
          f'{args.out_dir}/preds')
    return records


if __name__ == '__main__':
    main()

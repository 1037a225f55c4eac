"""Convert pretrained ViT weights: ``python tools/convert_weights.py SRC DST --from FORMAT``.

SRC is a checkpoint file (.pth/.pt/.bin/.safetensors) or a HuggingFace ``save_pretrained``
folder. DST gets ``{'state_dict': ..., 'meta': ...}``; use it as
``init_cfg=dict(type='Pretrained', checkpoint=DST)`` in a ViT config.
"""
import argparse
import json

from vitdense.utils.convert import SOURCES, convert_file


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert pretrained ViT weights to vitdense')
    parser.add_argument('src', help='source checkpoint file or HuggingFace folder')
    parser.add_argument('dst', help='output file (.pth)')
    parser.add_argument('--from', dest='source', required=True, choices=sorted(SOURCES),
                        help='format of the source checkpoint')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    meta = convert_file(args.src, args.dst, args.source)
    print(f'wrote {args.dst}: {meta["depth"]} blocks, width {meta["embed_dim"]}, '
          f'{len(meta["dropped"])} keys dropped, {len(meta["unconverted"])} unconverted')
    for note in meta['notes']:
        print(f'note: {note}')
    print('ViT arguments for these weights (besides arch):')
    print(json.dumps(meta['vit_kwargs'], indent=2))


if __name__ == '__main__':
    main()

"""Export a detector or segmentor to ONNX (docs/deploy.md):

``python tools/deploy/export_onnx.py CONFIG CHECKPOINT --out model.onnx --shape H W
[--dynamic] [--opset 17] [--verify] [--cfg-options k=v ...]``

The graph takes RGB pixels (B, 3, H, W) in [0, 255] (normalisation folded in) and returns
boxes and scores before NMS (FCOS), boxes and scores of every query (DETR family, no NMS) or
logits and a class map (segmentors). ``--verify`` runs it in onnxruntime and prints the largest
difference from PyTorch, at the export size and (with ``--dynamic``) at a second size.
"""
import argparse

import torch
from mmengine.config import DictAction

from vitdense.apis import init_model, load_config
from vitdense.deploy import compare_with_torch, export_onnx, size_divisor
from vitdense.registry import DATASETS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a vitdense model to ONNX')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for the config's own "
                        'initialisation (to try the export)')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs=2, required=True, metavar=('H', 'W'),
                        help='input height and width the graph is traced at')
    parser.add_argument('--dynamic', action='store_true',
                        help='a symbolic height and width (multiples of the config\'s '
                        'pad_size_divisor); errors for models that cannot take it')
    parser.add_argument('--opset', type=int, default=18,
                        help='ONNX opset: 18, the exporter\'s own, or 16-17 (converted down)')
    parser.add_argument('--verify', action='store_true',
                        help='run the graph in onnxruntime and compare with PyTorch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.bbox_head.num_queries=100')
    return parser.parse_args(argv)


def dataset_classes(cfg) -> tuple:
    """The class names of the config's test dataset (its ``metainfo`` or its class's)."""
    dataset = cfg.test_dataloader.dataset
    default = getattr(DATASETS.get(dataset.type), 'METAINFO', {}).get('classes', ())
    return tuple(dataset.get('metainfo', {}).get('classes', default))


def verify_sizes(shape: tuple[int, int], divisor: int, dynamic: bool) -> list[tuple[int, int]]:
    """The export size and, for a dynamic graph, one other (a divisor taller, two wider)."""
    sizes = [tuple(shape)]
    if dynamic:
        sizes.append((shape[0] + divisor, shape[1] + 2 * divisor))
    return sizes


def main(argv: list[str] | None = None) -> dict:
    """Export; returns ``{(H, W): {output: max abs difference}}`` when ``--verify``."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = init_model(cfg, checkpoint, device='cpu')
    classes = list(model.dataset_meta.get('classes') or dataset_classes(cfg))
    wrapper = export_onnx(model, args.out, args.shape, dynamic=args.dynamic, opset=args.opset,
                          metadata=dict(config=args.config, checkpoint=args.checkpoint,
                                        classes=classes))
    print(f'wrote {args.out}: input image (B, 3, {"H" if args.dynamic else args.shape[0]}, '
          f'{"W" if args.dynamic else args.shape[1]}) RGB 0-255 -> '
          f'{", ".join(wrapper.output_names)} (docs/deploy.md)')
    report = {}
    if args.verify:
        generator = torch.Generator().manual_seed(0)
        for size in verify_sizes(args.shape, size_divisor(model), args.dynamic):
            image = torch.rand(1, 3, *size, generator=generator) * 255
            report[size] = compare_with_torch(wrapper, args.out, image)
            diffs = ', '.join(f'{k} {v:.2e}' for k, v in report[size].items())
            print(f'onnxruntime vs PyTorch at {size[0]}x{size[1]}: max abs difference {diffs}')
    return report


if __name__ == '__main__':
    main()

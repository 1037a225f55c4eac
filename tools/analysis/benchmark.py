"""Inference speed of a config's model: images/s, latency p50/p90/p99, peak memory.

    python tools/analysis/benchmark.py CONFIG [CHECKPOINT] [--sizes 320 640] [--batch 1] \\
        [--warmup 5] [--iters 20] [--device cpu] [--threads N] [--out result.json]

Each size S is an S x S random image (or give H,W such as 480,640), timed through
``model.test_step`` (preprocessing, network, post-processing; no file reading): see
``vitdense/apis/inference_speed.py``. Weights do not change the speed of most models; give a
checkpoint where they do (a detector whose NMS sees more boxes when trained).
"""
import argparse
import json
from typing import Sequence

import torch
from mmengine.config import DictAction

from vitdense.apis import init_model, load_config
from vitdense.apis.inference_speed import SpeedResult, format_speed, measure_speed
from vitdense.utils.benchmark import machine, matmul_flops_per_s


def size(text: str) -> tuple[int, int]:
    """'640' -> (640, 640); '480,640' -> (480, 640)."""
    parts = text.split(',')
    if len(parts) not in (1, 2) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f'a size is S or H,W in pixels, got {text!r}')
    return (int(parts[0]), int(parts[-1]))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file (default: random init)')
    parser.add_argument('--sizes', type=size, nargs='+', default=[(320, 320), (640, 640)],
                        metavar='S|H,W', help='input sizes (default: 320 640)')
    parser.add_argument('--batch', type=int, default=1, help='images per iteration')
    parser.add_argument('--warmup', type=int, default=5, help='untimed iterations first')
    parser.add_argument('--iters', type=int, default=20, help='timed iterations')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda')
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--out', help='also write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.backbone.arch=test')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[SpeedResult]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = init_model(load_config(args.config, args.cfg_options), args.checkpoint, args.device)
    results = [measure_speed(model, h, w, args.batch, args.warmup, args.iters)
               for h, w in args.sizes]
    # The dense matmul rate of this machine now: a shared or throttled machine shows here.
    matmul = matmul_flops_per_s(n=1024, device=next(model.parameters()).device) / 1e9
    print(f'{args.config} on {machine()}; {args.warmup} warm-up + {args.iters} timed '
          f'iterations per size; dense fp32 matmul (1024^3) in the same run: {matmul:.1f} '
          'GFLOP/s')
    print(format_speed(results))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint, machine=machine(),
                           matmul_gflops_per_s=matmul, results=[r.as_dict() for r in results]),
                      f, indent=1)
    return results


if __name__ == '__main__':
    main()

"""Sliding-window inference, batched against one window at a time, and whole-image inference.

The segmentor of ``configs/fpnseg/fpnseg_vit-b-abs_8xb2-160k_ade20k-512x512.py`` (ViT-B/16,
SimpleFPN, FPN-fuse decoder, 150 classes; random weights, eval mode, no gradients) on one
2048 x 1024 (w x h) image, 512 x 512 windows at stride 341 (3 rows x 6 columns = 18 windows):

- ``slide xN``: ``Segmentor.slide_inference`` with ``slide_batch_size=N`` (N windows per forward
  pass; ``--slide-batch-size``, 8 by default);
- ``slide x1``: the same, one window per forward pass (mmseg's loop);
- ``whole``: ``Segmentor.encode_decode`` on the whole image (the learned position table is
  resized to the 64 x 128 grid; global attention over 8192 tokens).

Time: the three run round-robin on the same input (one warm-up each, then ``--repeats``
rounds); the table shows each one's median. Wall time, or the process's CPU time with
``--threads 1``. Memory: one subprocess, started with ``MALLOC_MMAP_THRESHOLD_=65536`` so that
freed blocks of 64 KiB or more go back to the OS, measures each mode after a warm-up as the
peak resident set during the call minus the resident set before it
(``vitdense.utils.benchmark.peak_rss_increase``): the model and the input are allocated before.

The last line is ``speedup=<slide x1 time / slide xN> memory_ratio=<slide xN peak / slide x1>
max_abs_diff=<largest |logit| difference between the two>``.

    python tools/analysis/bench_slide_inference.py            # ViT-B, 2048 x 1024 (minutes)
    python tools/analysis/bench_slide_inference.py --tiny     # test-size ViT, 256 x 128
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from vitdense.apis import load_config
from vitdense.models.utils.sliding_window import slide_windows
from vitdense.registry import MODELS
from vitdense.utils.benchmark import machine, peak_rss_increase

CONFIG = str(Path(__file__).resolve().parents[2] /
             'configs/fpnseg/fpnseg_vit-b-abs_8xb2-160k_ade20k-512x512.py')
FULL = dict(image=(1024, 2048), crop=(512, 512), stride=(341, 341))
TINY = dict(image=(128, 256), crop=(64, 64), stride=(43, 43))


def build(tiny: bool, batch: int) -> tuple[torch.nn.Module, dict]:
    """The config's segmentor in slide mode (random weights, eval) and the geometry used."""
    geometry = TINY if tiny else FULL
    cfg = load_config(CONFIG).model
    cfg.update(test_mode='slide', crop_size=geometry['crop'], stride=geometry['stride'],
               slide_batch_size=batch)
    if tiny:
        cfg.backbone.update(arch='test', img_size=geometry['crop'])
    torch.manual_seed(0)
    return MODELS.build(cfg).eval(), geometry


def modes(model: torch.nn.Module, batch: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Name -> inference function (B, 3, H, W) -> (B, K, H, W)."""
    def slide(n: int) -> Callable[[torch.Tensor], torch.Tensor]:
        def run(x: torch.Tensor) -> torch.Tensor:
            model.slide_batch_size = n
            return model.slide_inference(x)
        return run
    return {f'slide x{batch}': slide(batch), 'slide x1': slide(1), 'whole': model.encode_decode}


def child_memory(tiny: bool, batch: int) -> None:
    """Runs in the subprocess: prints {mode: peak bytes} as JSON."""
    model, geometry = build(tiny, batch)
    x = torch.randn(1, 3, *geometry['image'])
    peaks = {}
    with torch.no_grad():
        for name, fn in modes(model, batch).items():
            fn(x)
            peaks[name] = peak_rss_increase(lambda: fn(x))
    print(json.dumps(peaks))


def memory(tiny: bool, batch: int, threads: int) -> dict[str, int]:
    cmd = [sys.executable, __file__, '--child', '--slide-batch-size', str(batch),
           '--threads', str(threads)] + (['--tiny'] if tiny else [])
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536')
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tiny', action='store_true',
                        help='test-size ViT on a 256 x 128 image, 64 px windows at stride 43')
    parser.add_argument('--slide-batch-size', type=int, default=8,
                        help='windows per forward pass of the batched mode')
    parser.add_argument('--repeats', type=int, default=3, help='timed rounds (median)')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='torch threads; 1 switches to the CPU-time clock (shared machines)')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch = args.slide_batch_size
    if args.child:
        child_memory(args.tiny, batch)
        return
    model, geometry = build(args.tiny, batch)
    (h, w), crop, stride = geometry['image'], geometry['crop'], geometry['stride']
    windows = len(slide_windows((h, w), crop, stride))
    clock = time.process_time if args.threads == 1 else time.perf_counter
    print(f"{machine()}; {'CPU' if args.threads == 1 else 'wall'} time, median of "
          f"{args.repeats}; {'test-size ViT' if args.tiny else 'ViT-B/16'} FPN segmentor, "
          f'{model.num_classes} classes, image {w} x {h} (w x h), crop {crop}, stride {stride}: '
          f'{windows} windows; float32, no gradients')
    peaks = memory(args.tiny, batch, args.threads)
    x = torch.randn(1, 3, h, w)
    fns = modes(model, batch)
    times = {name: [] for name in fns}
    with torch.no_grad():
        outputs = {name: fn(x) for name, fn in fns.items()}  # warm-up, kept for the check
        for _ in range(args.repeats):
            for name, fn in fns.items():
                start = clock()
                fn(x)
                times[name].append(clock() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    one = 'slide x1'
    passes = {f'slide x{batch}': -(-windows // batch), one: windows, 'whole': 1}
    print(f"{'mode':<12}{'forwards':>9}{'median s':>10}{'x1/this':>9}{'peak MB':>9}"
          f"{'this/x1':>9}")
    for name in fns:
        print(f'{name:<12}{passes[name]:>9}{median[name]:>10.2f}{median[one] / median[name]:>9.2f}'
              f'{peaks[name] / 2**20:>9.0f}{peaks[name] / peaks[one]:>9.2f}', flush=True)
    batched = f'slide x{batch}'
    diff = (outputs[batched] - outputs[one]).abs().max().item()
    print(f'speedup={median[one] / median[batched]:.2f} '
          f'memory_ratio={peaks[batched] / peaks[one]:.2f} max_abs_diff={diff:.2e}')


if __name__ == '__main__':
    main()

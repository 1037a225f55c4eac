"""Multi-scale deformable attention sampling: vitdense's function against HF transformers'.

One step = forward + backward of ``multi_scale_deformable_attn`` (value, sampling locations and
attention weights all require gradients) with its default (at these sizes it keeps the samples
for the backward pass) and with ``save_samples=False`` (samples again: what it does for an
encoder's queries), against HF's, at Deformable DETR decoder sizes: 4 levels of a square
image at strides 8, 16, 32, 64 (128x128 ... 16x16 for 1024 px), 256 channels in 8 heads,
4 points per level and head, batch ``--batch``, for each query count of ``--queries``.
Locations are uniform in [0, 1], weights a softmax over the 16 samples of a head.

Time: both functions run round-robin on the same inputs (one warm-up step each, then
``--repeats`` rounds); the table shows each one's median step. The clock is wall time, or the
process's CPU time with ``--threads 1`` (not inflated when other processes share the cores).

Memory: one subprocess, started with ``MALLOC_MMAP_THRESHOLD_=65536`` so that glibc hands every
block of 64 KiB or more back to the OS when it is freed, measures each step (after a warm-up
step) as the peak resident set during the step minus the resident set just before it
(``vitdense.utils.benchmark.peak_rss_increase``): the peak of the live temporaries, saved
activations and gradients that the step allocates; the inputs are allocated before it.

The last line is ``speedup=<HF time / ours> memory_ratio=<ours / HF peak>`` of the default
``vitdense`` row at the largest query count (900 by default).

    python tools/analysis/bench_msda.py                 # 300 and 900 queries, batch 2
    python tools/analysis/bench_msda.py --threads 1     # on a shared machine
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial

import torch

from vitdense.models.utils import multi_scale_deformable_attn
from vitdense.utils.benchmark import machine, peak_rss_increase

try:
    from transformers.models.mask2former.modeling_mask2former import (
        multi_scale_deformable_attention as hf_multi_scale_deformable_attention,
    )
except ImportError:  # the reference lives in the test extras
    hf_multi_scale_deformable_attention = None

STRIDES = (8, 16, 32, 64)
CHANNELS, HEADS, POINTS = 256, 8, 4
IMPLS: dict[str, Callable | None] = {
    'hf': hf_multi_scale_deformable_attention, 'vitdense': multi_scale_deformable_attn,
    'vitdense-resample': partial(multi_scale_deformable_attn, save_samples=False)}


def make_inputs(image_size: int, queries: int, batch: int) -> tuple:
    """(value, spatial_shapes, locations, weights, grad_out) of a decoder cross-attention."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(-(-image_size // s), -(-image_size // s)) for s in STRIDES]
    tokens = sum(h * w for h, w in shapes)
    value = torch.randn(batch, tokens, HEADS, CHANNELS // HEADS, generator=gen)
    locations = torch.rand(batch, queries, HEADS, len(shapes), POINTS, 2, generator=gen)
    logits = torch.randn(batch, queries, HEADS, len(shapes) * POINTS, generator=gen)
    weights = logits.softmax(-1).view(batch, queries, HEADS, len(shapes), POINTS)
    grad_out = torch.randn(batch, queries, CHANNELS, generator=gen)
    for t in (value, locations, weights):
        t.requires_grad_()
    return value, shapes, locations, weights, grad_out


def step(fn: Callable, inputs: tuple) -> None:
    """Forward + backward; the gradients are dropped afterwards."""
    value, shapes, locations, weights, grad_out = inputs
    fn(value, shapes, locations, weights).backward(grad_out)
    for t in (value, locations, weights):
        t.grad = None


def median_times(inputs: tuple, repeats: int, clock: Callable[[], float]) -> dict[str, float]:
    """Median seconds of a step of each implementation, run round-robin."""
    times = {name: [] for name in IMPLS}
    for fn in IMPLS.values():
        step(fn, inputs)
    for _ in range(repeats):
        for name, fn in IMPLS.items():
            start = clock()
            step(fn, inputs)
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def child_memory(image_size: int, queries: list[int], batch: int) -> None:
    """Runs in the subprocess: prints {queries: {impl: peak bytes}} as JSON."""
    peaks = {}
    for q in queries:
        inputs = make_inputs(image_size, q, batch)
        peaks[q] = {}
        for name, fn in IMPLS.items():
            step(fn, inputs)
            peaks[q][name] = peak_rss_increase(lambda: step(fn, inputs))
    print(json.dumps(peaks))


def memory(image_size: int, queries: list[int], batch: int, threads: int
           ) -> dict[int, dict[str, int]]:
    cmd = [sys.executable, __file__, '--child', '--image-size', str(image_size), '--batch',
           str(batch), '--threads', str(threads), '--queries', *map(str, queries)]
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536')
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return {int(q): v for q, v in json.loads(out.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--queries', type=int, nargs='+', default=[300, 900])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--image-size', type=int, default=1024,
                        help='square image side; levels at strides 8, 16, 32, 64')
    parser.add_argument('--repeats', type=int, default=5, help='timed rounds (median)')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='torch threads; 1 switches to the CPU-time clock (shared machines)')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if hf_multi_scale_deformable_attention is None:
        sys.exit('bench_msda.py compares against HF transformers: pip install transformers '
                 "(or the package's [test] extras)")
    torch.set_num_threads(args.threads)
    args.queries = sorted(set(args.queries))
    if args.child:
        child_memory(args.image_size, args.queries, args.batch)
        return
    clock = time.process_time if args.threads == 1 else time.perf_counter
    print(f"{machine()}; {'CPU' if args.threads == 1 else 'wall'} time, median of "
          f'{args.repeats}; image {args.image_size} px, batch {args.batch}, {CHANNELS} channels, '
          f'{HEADS} heads, {POINTS} points, levels at strides {STRIDES}')
    peaks = memory(args.image_size, args.queries, args.batch, args.threads)
    print(f"{'queries':>8}  {'implementation':<18}{'step ms':>9}{'HF/this':>9}{'peak MB':>9}"
          f"{'this/HF':>9}")
    for q in args.queries:
        times = median_times(make_inputs(args.image_size, q, args.batch), args.repeats, clock)
        for name in IMPLS:
            speedup = times['hf'] / times[name]
            ratio = peaks[q][name] / peaks[q]['hf'] if peaks[q]['hf'] else float('nan')
            print(f'{q:>8}  {name:<18}{times[name] * 1e3:>9.1f}{speedup:>9.2f}'
                  f'{peaks[q][name] / 2**20:>9.1f}{ratio:>9.2f}', flush=True)
    speedup = times['hf'] / times['vitdense']
    ratio = peaks[q]['vitdense'] / peaks[q]['hf'] if peaks[q]['hf'] else float('nan')
    print(f'speedup={speedup:.2f} memory_ratio={ratio:.2f}')


if __name__ == '__main__':
    main()

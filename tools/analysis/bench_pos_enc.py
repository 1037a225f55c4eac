"""Time and memory of every position encoding in a ViT-S/16, as ratios to the same ViT without one.

Two settings, batch 1, one training step = forward + backward of the mean of the output map:

- ``512x512``: every block global (1024 tokens).
- ``1024x768``: ViTDet's layout, windowed blocks (window 14, grid padded to 70 x 56) with
  global blocks 2, 5, 8, 11 (3072 tokens); windowed blocks' PEs work per window.

Time: all models of a setting are built once, warmed up on a 64 x 64 input, then run
round-robin (one step each per round, ``--repeats`` rounds), so outside load hits them alike;
the table shows the median step of each and its ratio to the no-PE median of the same run.
The clock is wall time; with ``--threads 1`` it is the process's CPU time
(``time.process_time``), which time-slicing by other processes does not inflate: use that on a
shared machine (with more threads, CPU time would count the threads' spin-waits, and wall time
suffers from every descheduled thread). ``--inference`` adds the median eval-mode forward
under ``torch.no_grad`` (where PEs serve their cached tables).

Memory: each model runs one step in a fresh subprocess (after a warm-up step at 64 x 64 for
the one-time allocations); the figure is the process's peak resident set size during the step
minus its resident size just before it (VmHWM vs VmRSS in ``/proc/self/status``): what torch's
CPU allocator took from the OS for activations, gradients and temporaries, slack included.

    python tools/analysis/bench_pos_enc.py                   # all PEs, both settings
    python tools/analysis/bench_pos_enc.py --threads 1 --inference  # on a shared machine
    python tools/analysis/bench_pos_enc.py --bf16 --repeats 5 --pes rope-mixed --no-memory
    python tools/analysis/bench_pos_enc.py --pes rel-bias rel-bias@dense  # chunked vs dense

``PE@dense`` rows (rel-bias, decomposed, irpe-bias, irpe-ctx) run the same model with its
attention bias applied densely in SDPA (``dense_attention_bias``), the path before the chunked
attention.
"""
import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from typing import Callable

import torch

from vitdense.models.backbones import ViT
from vitdense.models.pos_encodings.attention_bias import dense_attention_bias
from vitdense.utils.benchmark import rss_bytes
from vitdense.utils.progress import progress

SETTINGS = {
    '512x512': dict(img_size=(512, 512), window_size=0, global_indices=()),
    '1024x768': dict(img_size=(1024, 768), window_size=14, global_indices=(2, 5, 8, 11)),
}
PES = {
    'none': {},
    'learned-abs': dict(pos_embed=dict(type='LearnedAbsolutePE')),
    'sincos': dict(pos_embed=dict(type='SinCos2dPE')),
    'window-tiled': dict(pos_embed=dict(type='WindowTiledAbsolutePE', window_size=14)),
    'rel-bias': dict(attn_pos_enc=dict(type='RelPosBiasPE')),
    'decomposed': dict(attn_pos_enc=dict(type='DecomposedRelPosPE', fold_into_qk=False)),
    'decomposed-fold': dict(attn_pos_enc=dict(type='DecomposedRelPosPE', fold_into_qk=True)),
    'irpe-bias': dict(attn_pos_enc=dict(type='IRPE', mode='bias')),
    'irpe-ctx': dict(attn_pos_enc=dict(type='IRPE', mode='contextual')),
    'peg': dict(cond_pos_enc=dict(type='ConditionalPEG'), cond_pos_indices=(0,)),
    'rope-axial': dict(attn_pos_enc=dict(type='RoPE2d', mode='axial')),
    'rope-mixed': dict(attn_pos_enc=dict(type='RoPE2d', mode='mixed')),
}
# The learned-bias PEs again, their AttentionBias applied densely in SDPA (the path before the
# chunked attention, and the one a traced graph takes): the reference for the chunked path.
DENSE = '@dense'
PES.update({f'{pe}{DENSE}': PES[pe] for pe in ('rel-bias', 'decomposed', 'irpe-bias',
                                                'irpe-ctx')})


def bias_path(pe: str):
    """The context a model of ``pe`` runs in: the dense reference path for ``...@dense``."""
    return dense_attention_bias() if pe.endswith(DENSE) else contextlib.nullcontext()


def build(setting: str, pe: str) -> ViT:
    torch.manual_seed(0)
    return ViT('small', patch_size=16, **SETTINGS[setting], **PES[pe])


def train_step(model: ViT, x: torch.Tensor, bf16: bool) -> None:
    """Forward + backward in train mode; gradients are dropped afterwards."""
    model.train()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        out = model(x)['p4']
    out.float().mean().backward()
    model.zero_grad(set_to_none=True)


def eval_forward(model: ViT, x: torch.Tensor, bf16: bool) -> None:
    model.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        model(x)


def time_all(setting: str, pes: list[str], repeats: int, bf16: bool, inference: bool,
             clock: Callable[[], float]) -> dict[str, dict[str, float]]:
    """Median seconds of a train step (and an eval forward) of each model, run round-robin."""
    h, w = SETTINGS[setting]['img_size']
    x, small = torch.randn(1, 3, h, w), torch.randn(1, 3, 64, 64)
    models = {pe: build(setting, pe) for pe in pes}
    runs = {'train': train_step} | ({'eval': eval_forward} if inference else {})
    times = {pe: {run: [] for run in runs} for pe in pes}
    for pe, model in models.items():
        for fn in runs.values():
            with bias_path(pe):
                fn(model, small, bf16)
    for _ in range(repeats):
        for pe, model in models.items():
            for run, fn in runs.items():
                with bias_path(pe):
                    start = clock()
                    fn(model, x, bf16)
                    times[pe][run].append(clock() - start)
    return {pe: {run: statistics.median(t) for run, t in per.items()} for pe, per in
            times.items()}


def child_memory(setting: str, pe: str, bf16: bool) -> None:
    """Runs in a subprocess: prints the peak RSS increase (bytes) of one train step as JSON."""
    model = build(setting, pe)
    with bias_path(pe):
        train_step(model, torch.randn(1, 3, 64, 64), bf16)
    h, w = SETTINGS[setting]['img_size']
    x = torch.randn(1, 3, h, w)
    before = rss_bytes('VmRSS')
    with bias_path(pe):
        train_step(model, x, bf16)
    print(json.dumps({'peak_delta': rss_bytes('VmHWM') - before}))


def memory(setting: str, pe: str, bf16: bool, threads: int) -> int:
    cmd = [sys.executable, __file__, '--child', setting, pe, '--threads', str(threads)]
    out = subprocess.run(cmd + (['--bf16'] if bf16 else []), check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])['peak_delta']


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pes', nargs='+', default=list(PES), choices=list(PES))
    parser.add_argument('--settings', nargs='+', default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument('--repeats', type=int, default=3, help='timed rounds (median)')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='torch threads; 1 switches to the CPU-time clock (shared machines)')
    parser.add_argument('--bf16', action='store_true', help='bf16 autocast')
    parser.add_argument('--inference', action='store_true', help='also time eval forwards')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory subprocesses')
    parser.add_argument('--child', nargs=2, metavar=('SETTING', 'PE'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        child_memory(*args.child, args.bf16)
        return
    clock = time.process_time if args.threads == 1 else time.perf_counter
    pes = ['none'] + [pe for pe in args.pes if pe != 'none']
    print(f'torch {torch.__version__}, {args.threads} thread(s), '
          f"{'CPU' if args.threads == 1 else 'wall'} time, "
          f"{'bf16 autocast' if args.bf16 else 'fp32'}, batch 1, median of {args.repeats}")
    for setting in progress(args.settings, desc='settings', unit='setting'):  # stderr, tty only
        times = time_all(setting, pes, args.repeats, args.bf16, args.inference, clock)
        mems = ({} if args.no_memory else
                {pe: memory(setting, pe, args.bf16, args.threads) for pe in pes})
        print(f'\n{setting}: {SETTINGS[setting]}')
        header = f"{'PE':<20}{'train s':>9}{'x none':>8}"
        header += f"{'eval s':>9}{'x none':>8}" if args.inference else ''
        print(header + (f"{'peak MB':>9}{'x none':>8}" if mems else ''))
        for pe in pes:
            row = f'{pe:<20}'
            for run in times[pe]:
                row += f"{times[pe][run]:>9.3f}{times[pe][run] / times['none'][run]:>8.2f}"
            if mems:
                row += f"{mems[pe] / 2**20:>9.0f}{mems[pe] / mems['none']:>8.2f}"
            print(row, flush=True)


if __name__ == '__main__':
    main()

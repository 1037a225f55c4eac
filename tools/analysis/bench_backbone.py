"""Benchmark vitdense's ViT-B in the ViTDet configuration against HF ``VitDetModel`` on the CPU.

Both backbones: width 768, depth 12, patch 16, window 14 with global blocks 2/5/8/11, a learned
absolute table at the 14 x 14 pre-training grid resampled to the input grid, and decomposed
relative position in every block. vitdense runs in two variants: ``ours`` is the PE's
default, a factored logit bias that the attention applies by query chunks, recomputing each
chunk in backward (``pos_encodings/decomposed_attention.py``: no N x N tensor is
kept); ``ours_fold`` folds the bias into q and k (``fold_into_qk=True``) so that SDPA keeps
its fused kernel on head_dim + h + w channels. For each model and dtype (fp32; bf16 under CPU
autocast) a
fresh subprocess builds the model, runs one forward+backward and records its peak memory (peak
RSS minus the RSS before it: activations, gradients and workspace; parameters are excluded),
then times ``--repeats`` eval forwards (no grad) and forward+backwards (median). vitdense's
forward FLOPs are counted with ``FlopCounterMode`` (on ``ours``: the model's FLOPs, also used
for ``ours_fold``, whose extended q/k add work that is not model FLOPs) and divided by the
forward time and by the FLOP/s of a dense 2048^3 matmul of the same dtype timed in the same
process (forward MFU).
Also measured: activation checkpointing (``with_checkpoint=True``) against the plain run, and
each stem's forward cost (patch, conv, ResNet R50, spatial prior) relative to the patch stem.

The last line is ``speedup_fwd_bwd_bf16=<x> speedup_fwd_bwd_fp32=<y> memory_ratio=<z>
mfu_fwd_bf16=<u>`` for the ``--headline`` variant (the same line for the other variant comes
just before, prefixed with its name): speedups are HF time / vitdense time, memory_ratio is
vitdense / HF peak memory of forward+backward (the larger of the fp32 and bf16 ratios).

    python tools/analysis/bench_backbone.py --size 1024 --repeats 1
"""
import argparse
import datetime
import gc
import json
import os
import resource
import statistics
import subprocess
import sys

import torch

from vitdense.models.backbones import ConvStem, ViT
from vitdense.models.backbones.hybrid_stems import ResNetHybridStem, SpatialPriorStem
from vitdense.models.layers import PatchEmbed
from vitdense.utils.benchmark import count_flops, machine, matmul_flops_per_s, timed

GLOBAL_BLOCKS = (2, 5, 8, 11)
DTYPES = {'fp32': None, 'bf16': torch.bfloat16}


def build_model(name: str, size: int) -> torch.nn.Module:
    """'ours' or 'ours_fold', '_ckpt' appended for activation checkpointing, or 'hf'."""
    if name.startswith('ours'):
        return ViT(arch='base', img_size=(size, size), patch_size=16, window_size=14,
                   global_indices=GLOBAL_BLOCKS, out_norm=False,
                   pos_embed=dict(type='LearnedAbsolutePE', ref_grid=(14, 14)),
                   attn_pos_enc=dict(type='DecomposedRelPosPE',
                                     fold_into_qk=name.startswith('ours_fold')),
                   with_checkpoint=name.endswith('_ckpt'))
    from transformers import VitDetConfig, VitDetModel  # optional: the peer only
    windowed = [i for i in range(12) if i not in GLOBAL_BLOCKS]
    cfg = VitDetConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                       mlp_ratio=4, image_size=size, pretrain_image_size=224, patch_size=16,
                       window_size=14, window_block_indices=windowed,
                       use_relative_position_embeddings=True, drop_path_rate=0.0)
    return VitDetModel(cfg)


def output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return out.last_hidden_state if hasattr(out, 'last_hidden_state') else out['p4']


def rss_mb() -> float:
    with open('/proc/self/status') as f:
        line = next(ln for ln in f if ln.startswith('VmRSS'))
    return int(line.split()[1]) / 1024


def fwd_bwd(model: torch.nn.Module, x: torch.Tensor, dtype) -> None:
    with torch.autocast('cpu', dtype=dtype, enabled=dtype is not None):
        loss = output(model, x).float().square().mean()
    loss.backward()
    model.zero_grad(set_to_none=True)


def fwd(model: torch.nn.Module, x: torch.Tensor, dtype, call=output) -> None:
    with torch.no_grad(), torch.autocast('cpu', dtype=dtype, enabled=dtype is not None):
        call(model, x)


def call_stem(stem: torch.nn.Module, x: torch.Tensor) -> None:
    stem(x)


def run_model(spec: dict) -> dict:
    dtype = DTYPES[spec['dtype']]
    torch.manual_seed(0)
    model = build_model(spec['model'], spec['size']).train()
    x = torch.randn(1, 3, spec['size'], spec['size'])
    gc.collect()
    base = rss_mb()
    first = timed(lambda: fwd_bwd(model, x, dtype))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    result = dict(spec, peak_mb=peak, first_fwd_bwd_s=first)
    result['fwd_bwd_s'] = statistics.median(timed(lambda: fwd_bwd(model, x, dtype))
                                            for _ in range(spec['repeats']))
    if spec['fwd']:
        model.eval()
        result['fwd_s'] = statistics.median(timed(lambda: fwd(model, x, dtype))
                                            for _ in range(spec['repeats']))
    if spec['flops']:
        result['fwd_flops'] = count_flops(lambda: fwd(model, x, dtype))
        result['matmul_flops_per_s'] = matmul_flops_per_s(dtype)
    return result


def build_stems(dim: int = 768) -> dict[str, torch.nn.Module]:
    return {'patch': PatchEmbed(16, 3, dim), 'conv': ConvStem(3, dim, stride=16),
            'resnet_r50': ResNetHybridStem(3, dim), 'spatial_prior': SpatialPriorStem(3, dim)}


def run_stems(spec: dict) -> dict:
    x = torch.randn(1, 3, spec['size'], spec['size'])
    result = dict(spec, stems={})
    for name, stem in build_stems().items():
        stem.eval()
        row = dict(params_m=sum(p.numel() for p in stem.parameters()) / 1e6)
        row['gflops'] = count_flops(lambda: fwd(stem, x, None, call_stem)) / 1e9
        for dname, dtype in DTYPES.items():
            fwd(stem, x, dtype, call_stem)  # warm-up
            row[f'fwd_{dname}_s'] = statistics.median(timed(lambda: fwd(stem, x, dtype, call_stem))
                                                      for _ in range(spec['repeats'] + 1))
        result['stems'][name] = row
    return result


def spawn(spec: dict, timeout: int) -> dict:
    """Run one measurement in a fresh interpreter (so that its peak memory is its own)."""
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f'worker {spec} failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary_line(runs: dict, ours: str) -> str:
    speed = {d: runs[('hf', d)]['fwd_bwd_s'] / runs[(ours, d)]['fwd_bwd_s'] for d in DTYPES}
    memory = max(runs[(ours, d)]['peak_mb'] / runs[('hf', d)]['peak_mb'] for d in DTYPES)
    run, flops = runs[(ours, 'bf16')], runs[('ours', 'bf16')]['fwd_flops']
    mfu = flops / run['fwd_s'] / runs[('ours', 'bf16')]['matmul_flops_per_s']
    return (f"speedup_fwd_bwd_bf16={speed['bf16']:.2f} speedup_fwd_bwd_fp32={speed['fp32']:.2f} "
            f'memory_ratio={memory:.2f} mfu_fwd_bf16={mfu:.2f}')


def report(runs: dict, stems: dict, size: int, headline: str) -> None:
    print(f'\n## ViT-B ViTDet configuration, {size}x{size}, batch 1 ({machine()}, '
          f'{datetime.date.today()})\n')
    print('| model | dtype | fwd (s) | fwd+bwd (s) | peak memory fwd+bwd (MB) | fwd GFLOP | '
          'fwd GFLOP/s | matmul GFLOP/s | fwd MFU |')
    print('|---|---|---|---|---|---|---|---|---|')
    for (model, dname), r in runs.items():
        flops = runs[('ours', dname)]['fwd_flops'] if model == 'ours_fold' else r.get('fwd_flops')
        if 'fwd_s' not in r:
            flops = None
        cells = [model, dname, f"{r['fwd_s']:.2f}" if 'fwd_s' in r else '-',
                 f"{r['fwd_bwd_s']:.2f}", f"{r['peak_mb']:.0f}"]
        if flops:
            rate = flops / r['fwd_s']
            peak = runs[('ours', dname)]['matmul_flops_per_s']
            cells += [f'{flops / 1e9:.0f}', f'{rate / 1e9:.0f}', f'{peak / 1e9:.0f}',
                      f'{rate / peak:.0%}']
        else:
            cells += ['-'] * 4
        print('| ' + ' | '.join(cells) + ' |')
    for dname in DTYPES:
        if (f'{headline}_ckpt', dname) in runs:
            plain, ckpt = runs[(headline, dname)], runs[(f'{headline}_ckpt', dname)]
            saved = 1 - ckpt['peak_mb'] / plain['peak_mb']
            slower = ckpt['fwd_bwd_s'] / plain['fwd_bwd_s'] - 1
            print(f'\nactivation checkpointing ({headline}, {dname}): peak memory '
                  f"{ckpt['peak_mb']:.0f} MB vs {plain['peak_mb']:.0f} MB ({saved:.0%} saved), "
                  f"fwd+bwd {ckpt['fwd_bwd_s']:.2f} s vs {plain['fwd_bwd_s']:.2f} s "
                  f'({slower:+.0%} time)')
    if stems:
        print(f'\n| stem ({size}x{size}) | params (M) | GFLOP | fwd fp32 (s) | x patch | '
              f'fwd bf16 (s) | x patch | share of ViT-B fwd (fp32) |')
        print('|---|---|---|---|---|---|---|---|')
        patch = stems['patch']
        vit_fwd = runs[(headline, 'fp32')].get('fwd_s')
        for name, row in stems.items():
            share = f"{row['fwd_fp32_s'] / vit_fwd:.1%}" if vit_fwd else '-'
            print(f"| {name} | {row['params_m']:.2f} | {row['gflops']:.1f} | "
                  f"{row['fwd_fp32_s']:.3f} | {row['fwd_fp32_s'] / patch['fwd_fp32_s']:.1f} | "
                  f"{row['fwd_bf16_s']:.3f} | {row['fwd_bf16_s'] / patch['fwd_bf16_s']:.1f} | "
                  f'{share} |')
    other = 'ours' if headline == 'ours_fold' else 'ours_fold'
    print(f'\n{other}: {summary_line(runs, other)}')
    print(summary_line(runs, headline))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=1024, help='input side (square)')
    parser.add_argument('--repeats', type=int, default=1,
                        help='timed runs per measurement, after the memory/warm-up run')
    parser.add_argument('--headline', default='ours', choices=['ours', 'ours_fold'],
                        help='the vitdense variant of the last line and of the checkpointing run')
    parser.add_argument('--ckpt-dtypes', nargs='*', default=['bf16'], choices=list(DTYPES),
                        help='dtypes to measure activation checkpointing in')
    parser.add_argument('--no-stems', action='store_true', help='skip the stem comparison')
    parser.add_argument('--timeout', type=int, default=900, help='seconds per worker')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(run_stems(spec) if spec.get('stems') else run_model(spec)))
        return
    runs = {}
    for dname in ('fp32', 'bf16'):
        for model in ('ours', 'hf', 'ours_fold'):  # interleaved: outside load hits all
            spec = dict(model=model, dtype=dname, size=args.size, repeats=args.repeats,
                        fwd=True, flops=model == 'ours')
            runs[(model, dname)] = spawn(spec, args.timeout)
            print(f'{model} {dname}: {runs[(model, dname)]}', flush=True)
    for dname in args.ckpt_dtypes:
        model = f'{args.headline}_ckpt'
        spec = dict(model=model, dtype=dname, size=args.size, repeats=args.repeats,
                    fwd=False, flops=False)
        runs[(model, dname)] = spawn(spec, args.timeout)
        print(f'{model} {dname}: {runs[(model, dname)]}', flush=True)
    stems = {}
    if not args.no_stems:
        stems = spawn(dict(stems=True, size=args.size, repeats=args.repeats),
                      args.timeout)['stems']
    report(runs, stems, args.size, args.headline)


if __name__ == '__main__':
    main()

"""Inference speed of a model at one input size and batch: images/s, latency percentiles, peak
memory (what ``tools/analysis/benchmark.py`` reports).

One timed iteration is ``model.test_step`` on a batch of packed random images
(:func:`pack_random_images`): the data preprocessor (normalisation, padding), the network and
the post-processing (box decoding and NMS, or resizing the logits to the image and the argmax).
Reading and decoding files and the pipeline's transforms are not timed.
"""
from dataclasses import asdict, dataclass

import numpy as np
import torch
from mmengine.dataset import pseudo_collate

from vitdense.evaluation.table import format_table
from vitdense.utils.benchmark import peak_rss_increase, rss_bytes, timed

from .complexity import model_complexity
from .synthetic_inputs import pack_random_images


@dataclass(frozen=True)
class SpeedResult:
    """Attributes:
        height, width: the images' size (before the preprocessor's padding).
        batch: images per iteration.
        iters: timed iterations (after ``warmup`` untimed ones).
        images_per_s: ``batch * iters`` over the summed time of the timed iterations.
        latency_ms_p50, latency_ms_p90, latency_ms_p99: percentiles of one iteration's time
            (one batch), linear interpolation between the timed iterations.
        peak_memory_mb: CUDA: ``torch.cuda.max_memory_allocated`` during the timed iterations.
            CPU: the rise of the process's peak resident set (VmHWM, reset first) above its
            resident set just before them (see :func:`peak_rss_increase` for what allocator
            caching hides).
        memory_kind: ``'cuda_max_allocated'``, ``'cpu_peak_rss_increase'``, or
            ``'unavailable'`` (the peak resident set cannot be reset here: memory is NaN).
        process_peak_rss_mb: the process's peak resident set (CPU; 0 on CUDA).
        device: where it ran.
        gflops_per_image: the network's FLOPs for one image (:func:`model_complexity`, tensor
            mode: no post-processing), in GFLOPs.
        achieved_gflops_per_s: ``gflops_per_image`` x images/s.
    """

    height: int
    width: int
    batch: int
    warmup: int
    iters: int
    images_per_s: float
    latency_ms_p50: float
    latency_ms_p90: float
    latency_ms_p99: float
    peak_memory_mb: float
    memory_kind: str
    process_peak_rss_mb: float
    device: str
    gflops_per_image: float
    achieved_gflops_per_s: float

    def as_dict(self) -> dict:
        return asdict(self)


def measure_speed(model: torch.nn.Module, height: int, width: int, batch: int = 1,
                  warmup: int = 5, iters: int = 20) -> SpeedResult:
    """Time ``iters`` test steps of ``model`` (from :func:`init_model`, on its device) on
    ``batch`` random ``height`` x ``width`` images, after ``warmup`` untimed ones."""
    if iters < 1 or warmup < 0 or batch < 1:
        raise ValueError(f'need iters >= 1, warmup >= 0, batch >= 1; got iters={iters}, '
                         f'warmup={warmup}, batch={batch}')
    device = next(model.parameters()).device
    items = pack_random_images(model.cfg, height, width, batch)
    step = lambda: model.test_step(pseudo_collate(items))  # noqa: E731
    seconds: list[float] = []

    def run() -> None:
        seconds.extend(timed(step, device) for _ in range(iters))

    with torch.no_grad():
        for _ in range(warmup):
            step()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            run()
            peak, kind, process = torch.cuda.max_memory_allocated(device), 'cuda_max_allocated', 0
        else:
            try:
                peak, kind = peak_rss_increase(run), 'cpu_peak_rss_increase'
                process = rss_bytes('VmHWM')
            except RuntimeError:  # no /proc/self/clear_refs (not Linux, or not allowed)
                seconds.clear()
                run()
                peak, kind, process = float('nan'), 'unavailable', float('nan')
    p50, p90, p99 = np.percentile(np.asarray(seconds) * 1e3, [50, 90, 99])
    images_per_s = batch * iters / sum(seconds)
    gflops = model_complexity(model, height, width).total.flops / 1e9
    return SpeedResult(height, width, batch, warmup, iters, images_per_s,
                       float(p50), float(p90), float(p99), peak / 2**20, kind,
                       process / 2**20, str(device), gflops, gflops * images_per_s)


def format_speed(results: list[SpeedResult]) -> str:
    """One line per size: images/s, latency percentiles (ms), peak memory (MiB), GFLOPs per
    image and the GFLOP/s achieved."""
    head = ('size', 'batch', 'img/s', 'p50 ms', 'p90 ms', 'p99 ms', 'peak MiB', 'GFLOPs/img',
            'GFLOP/s')
    rows = [(f'{r.height}x{r.width}', r.batch, f'{r.images_per_s:.2f}',
             f'{r.latency_ms_p50:.1f}', f'{r.latency_ms_p90:.1f}', f'{r.latency_ms_p99:.1f}',
             f'{r.peak_memory_mb:.1f}', f'{r.gflops_per_image:.2f}',
             f'{r.achieved_gflops_per_s:.1f}') for r in results]
    lines = [format_table(head, rows)]
    if results:
        kind = results[0].memory_kind
        lines.append('peak MiB: ' + {
            'cuda_max_allocated': 'torch.cuda.max_memory_allocated',
            'cpu_peak_rss_increase': 'rise of the peak resident set (VmHWM) over the timed '
                                     'iterations',
            'unavailable': 'not measured (cannot reset the peak resident set here)'}[kind])
    return '\n'.join(lines)

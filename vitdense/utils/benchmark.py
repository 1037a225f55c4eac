"""What every benchmark shares: FLOP counting, the dense-matmul reference rate, the machine,
resident-memory readings.

``FlopCounterMode`` has formulas for the CUDA SDPA kernels only; importing this module registers
the same formulas for the CPU flash-attention kernel (forward and backward), once per process.
"""
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import (
    FlopCounterMode,
    flop_registry,
    register_flop_formula,
    sdpa_backward_flop_count,
    sdpa_flop_count,
)

_CPU_SDPA = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_CPU_SDPA_BACKWARD = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None,
                    **kwargs) -> int:
    """query/key/value: (B, heads, L, E) as in the CUDA kernels."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward_flops(grad_out_shape, query_shape, key_shape, value_shape, *args,
                             out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


if _CPU_SDPA not in flop_registry:
    register_flop_formula(_CPU_SDPA)(_cpu_sdpa_flops)
if _CPU_SDPA_BACKWARD not in flop_registry:
    register_flop_formula(_CPU_SDPA_BACKWARD)(_cpu_sdpa_backward_flops)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels on ``device`` (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device = torch.device('cpu')) -> float:
    """Wall-clock seconds of one call of ``fn``."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of the matmuls, convolutions and attentions that one call of ``fn`` runs (a
    multiply-add counts 2), forward and backward alike."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def matmul_flops_per_s(dtype: torch.dtype | None = None, n: int = 2048, repeats: int = 5,
                       device: torch.device = torch.device('cpu')) -> float:
    """FLOP/s of a dense ``n x n @ n x n`` matmul in ``dtype`` (None: float32), median of
    ``repeats`` timed runs after one warm-up, on the current number of threads."""
    a = torch.randn(n, n, dtype=dtype or torch.float32, device=device)
    b = torch.randn(n, n, dtype=dtype or torch.float32, device=device)
    torch.mm(a, b)
    seconds = statistics.median(timed(lambda: torch.mm(a, b), device) for _ in range(repeats))
    return 2 * n ** 3 / seconds


def machine() -> str:
    """CPU model (or GPU name), torch threads and version, for a benchmark's header."""
    cpu = platform.processor() or 'cpu'
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            cpu = next((ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name')),
                       cpu)
    gpu = f', {torch.cuda.get_device_name()}' if torch.cuda.is_available() else ''
    return f'{cpu}{gpu}, {torch.get_num_threads()} threads, torch {torch.__version__}'


def rss_bytes(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, from /proc/self/status.

    (``ru_maxrss`` would not do: Linux carries the forking parent's peak across exec.)
    """
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f'{field} not in /proc/self/status: this tool measures memory on Linux')


def peak_rss_increase(fn: Callable[[], object]) -> int:
    """Bytes by which one call of ``fn`` raised this process's peak resident set above its
    resident size just before the call.

    The peak (VmHWM) is reset first through ``/proc/self/clear_refs``, so warm-up calls before
    this one do not hide it. Freed memory leaves the resident set only where the allocator
    returns it to the OS: start the process with ``MALLOC_MMAP_THRESHOLD_=65536`` (glibc) so
    that every block of 64 KiB or more is unmapped when freed and the figure is the peak of
    live tensors (page-granular), not allocator slack.
    """
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # 5: reset the peak resident set size to the current one
    except OSError as err:
        raise RuntimeError(f'cannot reset the peak RSS through /proc/self/clear_refs ({err}); '
                           'measure in a fresh process instead') from err
    before = rss_bytes('VmRSS')
    fn()
    return rss_bytes('VmHWM') - before


def count_flops_per_module(fn: Callable[[], object]) -> tuple[int, dict[str, int]]:
    """The FLOPs of one call of ``fn`` (as :func:`count_flops`) and their split per module:
    ``{'<RootClass>.<dotted name>': flops}``, each module's children included, as
    ``FlopCounterMode`` names them."""
    with FlopCounterMode(display=False) as counter:
        fn()
    per_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return counter.get_total_flops(), per_module

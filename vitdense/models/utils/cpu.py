"""What the CPU offers that changes which kernel is faster."""
import functools
import os


@functools.lru_cache(maxsize=1)
def cpu_has_amx() -> bool:
    """Whether the CPU has Intel AMX bf16 matrix units (``amx_bf16`` in /proc/cpuinfo's flags).

    With AMX, bf16 matmuls run several times faster than with AVX-512 alone, so kernels that
    trade extra matmul FLOPs for less memory traffic win there and lose elsewhere. False where
    /proc/cpuinfo is missing (not Linux). torch's own ``_is_amx_tile_supported`` is not used: it
    answered False on a Xeon whose flags list ``amx_bf16`` and whose bf16 matmuls ran at AMX
    rates (2026-12-04).
    """
    if not os.path.exists('/proc/cpuinfo'):
        return False
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('flags'):
                return 'amx_bf16' in line.split(':', 1)[1].split()
    return False

"""Which file each data-loader worker was loading, readable by the main process after the worker
died (a segfault in a decoder, the kernel's OOM killer): PyTorch then only says "DataLoader
worker (pid N) exited unexpectedly".

A fixed block of shared memory, allocated when this module is imported (so before mmengine's
loaders fork their workers), holds one slot per worker id; the image loader writes the path it
starts on into its worker's slot. Workers started with 'spawn' do not share it: then the error
stays PyTorch's.
"""
import multiprocessing
import re

import torch.utils.data

SLOTS, SLOT_BYTES = 64, 1024
_SHARED = multiprocessing.get_context('fork').Array('c', SLOTS * SLOT_BYTES, lock=False)


def record(path: str) -> None:
    """Note that this worker starts on ``path`` (no-op in the main process)."""
    info = torch.utils.data.get_worker_info()
    if info is None or info.id >= SLOTS:
        return
    data = path.encode('utf-8', 'replace')[:SLOT_BYTES - 1] + b'\0'
    start = info.id * SLOT_BYTES
    _SHARED[start:start + len(data)] = data


def last_files() -> dict[int, str]:
    """Worker id -> the last path that worker started on."""
    out = {}
    for wid in range(SLOTS):
        raw = bytes(_SHARED[wid * SLOT_BYTES:(wid + 1) * SLOT_BYTES]).split(b'\0', 1)[0]
        if raw:
            out[wid] = raw.decode('utf-8', 'replace')
    return out


def name_files_of_dead_workers(err: BaseException) -> BaseException | None:
    """For PyTorch's error about a worker that exited, a RuntimeError that also names the file
    each worker was loading; None for any other error."""
    text = str(err)
    if not re.search(r'DataLoader worker \(pid', text):
        return None
    files = last_files()
    if not files:
        return None
    listing = '\n  '.join(f'worker {wid}: {path}' for wid, path in sorted(files.items()))
    return RuntimeError(f'{text}\nThe loader workers were last loading (one of these files made '
                        f'its worker crash):\n  {listing}')

"""Atomic file writes: a file is either its old content or its complete new content, never a part.

A write goes to a temporary file in the same folder, is flushed and fsynced, replaces the target
with ``os.replace`` (atomic on POSIX and Windows within one file system), and the folder is
fsynced so that the rename itself survives a power cut. A process killed at any moment, or a
write that fails (a full disk), leaves at most a stray temporary file, which
:func:`remove_stale_temporaries` clears at the next start.

:class:`AtomicLocalBackend` is mmengine's local file backend with atomic ``put``/``put_text``;
:class:`vitdense.engine.checkpoint_hook.AtomicCheckpointHook` saves checkpoints through it.
"""
import glob
import os
import os.path as osp
import time
from pathlib import Path

from mmengine.fileio import LocalBackend, register_backend

# The name under which mmengine's get_file_backend(backend_args=dict(backend=...)) finds it.
BACKEND_NAME = 'vitdense_atomic_local'
# Temporary files are hidden, named after their target and the writing process.
_TMP_FORMAT = '.{name}.{pid}.tmp'
# Test hook (tests/reliability): while saving a file of this base name, stop half-way through the
# write, create '<target>.paused' and sleep, so that a test can SIGKILL the process inside a save.
PAUSE_ENV = 'VITDENSE_TEST_PAUSE_SAVE_OF'


def fsync_dir(folder: str) -> None:
    """Make the entries of ``folder`` (a rename into it) durable; a no-op where folders cannot
    be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pause_for_test(path: str) -> None:
    if os.environ.get(PAUSE_ENV) == osp.basename(path):
        Path(path + '.paused').touch()
        while True:  # until the test kills this process
            time.sleep(1)


def atomic_write(path: str | Path, data: bytes | str, encoding: str = 'utf-8') -> None:
    """Write ``data`` to ``path`` so that ``path`` never holds a partial file.

    Raises:
        OSError: the write failed (e.g. a full disk, a read-only folder); the message names
            ``path`` and says that its previous content, if any, is intact.
    """
    path = os.fspath(path)
    if isinstance(data, str):
        data = data.encode(encoding)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, _TMP_FORMAT.format(name=osp.basename(path), pid=os.getpid()))
    try:
        with open(tmp, 'wb') as f:
            half = len(data) // 2
            f.write(data[:half])
            if os.environ.get(PAUSE_ENV):
                f.flush()
                _pause_for_test(path)
            f.write(data[half:])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        if osp.exists(tmp):
            os.remove(tmp)
        state = 'its previous content is intact' if osp.exists(path) else 'it was not created'
        raise OSError(err.errno, f'Could not write {path!r} ({err.strerror or err}); {state}. '
                      'Free disk space or choose a writable --work-dir.') from err
    fsync_dir(folder)


def remove_stale_temporaries(folder: str) -> list[str]:
    """Delete the temporary files that killed writers left in ``folder``; returns their paths."""
    stale = glob.glob(osp.join(glob.escape(folder), _TMP_FORMAT.format(name='*', pid='*')))
    for path in stale:
        os.remove(path)
    return stale


@register_backend(BACKEND_NAME)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend whose ``put`` and ``put_text`` write atomically
    (:func:`atomic_write`)."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj, encoding)

"""A hook that records memory, open files and step time through a run, for soak tests."""
import json
import os
import statistics
import time
from typing import Optional

from mmengine.hooks import Hook

from vitdense.registry import HOOKS

_PAGE_KB = os.sysconf('SC_PAGE_SIZE') // 1024 if hasattr(os, 'sysconf') else 4


def _rss_mb(pid: int | str) -> float:
    """Resident memory of a process in MiB (``/proc/<pid>/statm``; 0 if it has gone)."""
    try:
        with open(f'/proc/{pid}/statm') as f:
            return int(f.read().split()[1]) * _PAGE_KB / 1024
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    """Child processes of ``pid`` (the data loader workers), read from ``/proc/*/stat``."""
    kids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            kids.append(int(entry))
    return kids


def sample_resources() -> dict:
    """This process's and its children's resident memory (MiB) and its open file descriptors."""
    pid = os.getpid()
    kids = _children(pid)
    return dict(rss_mb=round(_rss_mb(pid), 1),
                workers_rss_mb=round(sum(_rss_mb(k) for k in kids), 1),
                workers=len(kids), open_fds=len(os.listdir('/proc/self/fd')))


@HOOKS.register_module()
class ResourceMonitorHook(Hook):
    """Write the run's resident memory, open files and step time to ``resources.jsonl``.

    Every ``interval`` training iterations, after each validation and whenever :meth:`record`
    is called, one JSON line goes to ``<log_dir>/resources.jsonl``: ``iter``, ``phase``
    (``train``, ``val`` or a caller's tag), ``time`` (seconds since the run started), the main
    process's resident memory ``rss_mb``, its data loader workers' ``workers_rss_mb`` (summed)
    and their number, ``open_fds`` (this process's file descriptors), and for training lines
    ``step_s``: the median time of the iterations since the last line, data loading included
    and validation left out. Linux only (it reads ``/proc``); elsewhere it warns and does nothing.
    Under several processes every rank records its own: rank 0 to ``resources.jsonl``, rank r to
    ``resources_rank{r}.jsonl`` beside it (each process's memory is its own; one file per rank
    keeps the lines of one process together), and every line names its ``rank``.

    ``tools/analysis/soak.py`` runs a training with it and draws the lines; any config can add it:
    ``custom_hooks = [..., dict(type='ResourceMonitorHook', interval=20)]``.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 20) -> None:
        if interval < 1:
            raise ValueError(f'ResourceMonitorHook: interval must be >= 1, got {interval}')
        self.interval = interval
        self.path: Optional[str] = None
        self._start = time.perf_counter()
        self._last: Optional[float] = None  # end of the previous training iteration
        self._steps: list[float] = []
        self.enabled = os.path.isdir('/proc/self/fd')

    def before_run(self, runner) -> None:
        if not self.enabled:
            runner.logger.warning('ResourceMonitorHook: /proc is not available on this system; '
                                  'nothing is recorded.')
            return
        rank = runner.rank
        name = 'resources.jsonl' if rank == 0 else f'resources_rank{rank}.jsonl'
        self.path = os.path.join(runner.log_dir, name)

    def record(self, runner, phase: str, **extra) -> dict:
        """Append one line now (e.g. after an evaluation run outside the training loop), at the
        number of training iterations done."""
        line = dict(iter=extra.pop('iter', runner.iter), phase=phase, rank=runner.rank,
                    time=round(time.perf_counter() - self._start, 2), **sample_resources(),
                    **extra)
        if self.path is not None:
            with open(self.path, 'a') as f:
                f.write(json.dumps(line) + '\n')
        return line

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._last is None:
            self._last = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self._steps.append(now - self._last)
        self._last = now
        if self.enabled and self.every_n_train_iters(runner, self.interval):
            # mmengine counts this iteration as done once the after_train_iter hooks return.
            step_s = round(statistics.median(self._steps), 4)
            self.record(runner, 'train', iter=runner.iter + 1, step_s=step_s)
            self._steps = []

    def before_val(self, runner) -> None:
        self._last = None  # validation time is not a training step

    def after_val(self, runner) -> None:
        if self.enabled:
            self.record(runner, 'val')

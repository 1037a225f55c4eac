"""A progress bar over the batches of each validation and test run, on a terminal only.

mmengine's loops show no bar: its LoggerHook prints a line every ``logger.interval`` batches
(``Iter(test) [ 50/300]``), which is all a log file needs. On a terminal, evaluating COCO val
on a CPU is long enough to want a bar as well; this hook draws one on stderr (rank 0) through
:func:`vitdense.utils.progress.progress_bar`, so it is silent in logs, pipes and CI.
"""
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from vitdense.registry import HOOKS
from vitdense.utils.progress import progress_bar


@HOOKS.register_module()
class EvalProgressHook(Hook):
    """Draw a bar over the val / test dataloader's batches while a terminal watches.

    Enabled in ``configs/_base_/default_runtime.py`` (``custom_hooks``); the bar is closed (and
    left on screen) when the loop ends. ``VITDENSE_PROGRESS=0`` hides it, ``=1`` forces it.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._bar = None

    def _open(self, loader, mode: str) -> None:
        if is_main_process():
            self._bar = progress_bar(total=len(loader), desc=mode, unit='batch')

    def _step(self) -> None:
        if self._bar is not None:
            self._bar.update()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def before_val_epoch(self, runner) -> None:
        self._open(runner.val_dataloader, 'val')

    def before_test_epoch(self, runner) -> None:
        self._open(runner.test_dataloader, 'test')

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._close()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._close()

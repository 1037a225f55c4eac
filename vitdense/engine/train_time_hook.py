"""A hook that logs, with every validation result, the minutes spent training so far."""
import time

from mmengine.hooks import Hook

from vitdense.registry import HOOKS

# The key next to the metrics in each validation line of ``<log_dir>/vis_data/scalars.json``.
TRAIN_MINUTES_KEY = 'train_minutes'
# Cumulative seconds in the message hub's runtime info; saved in checkpoints, restored on resume.
_SECONDS_INFO = 'train_time_seconds'


@HOOKS.register_module()
class TrainTimeHook(Hook):
    """Time spent in training iterations, logged as ``train_minutes`` with every validation.

    The clock runs from the first ``before_train_iter`` after a pause to each
    ``after_train_iter``, and on from there through the next iteration's data loading. It pauses
    for validation, checkpoint saving and the end of an epoch, so that start-up, the dataloader
    fast-forward of a resumed run, evaluation and saving are left out. The total is kept in the
    checkpoint and continues on ``--resume`` (but not on ``load_from``).

    Enable with ``custom_hooks = [dict(type='TrainTimeHook')]``. The minutes land in the same
    ``scalars.json`` line as ``coco/bbox_mAP`` or ``mIoU`` (``val/train_minutes`` with
    ``log_processor.log_with_hierarchy=True``).
    """

    # Last, so that an iteration's after_train_iter work (EMA, logging) counts, and a checkpoint
    # saved there has already paused the clock.
    priority = 'LOWEST'

    def __init__(self) -> None:
        self.seconds = 0.0
        self._since: float | None = None  # perf_counter() when the clock last (re)started
        self._training = False  # validations outside runner.train() have no training time

    def _pause(self) -> None:
        if self._since is not None:
            self.seconds += time.perf_counter() - self._since
            self._since = None

    def before_train(self, runner) -> None:
        self.seconds = float(runner.message_hub.get_info(_SECONDS_INFO, 0.0))
        self._since = None
        self._training = True

    def after_train(self, runner) -> None:
        self._pause()
        self._training = False

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._since is None:
            self._since = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        paused = self._since is None  # a checkpoint was saved in this iteration
        self._pause()
        if not paused:
            self._since = time.perf_counter()  # the next iteration's data loading counts
        runner.message_hub.update_info(_SECONDS_INFO, self.seconds, resumed=True)

    def after_train_epoch(self, runner) -> None:
        self._pause()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pause()
        runner.message_hub.update_info(_SECONDS_INFO, self.seconds, resumed=True)
        # The checkpoint holds a copy of the message hub taken before this hook was called.
        hub = checkpoint['message_hub']
        hub['runtime_info'][_SECONDS_INFO] = self.seconds
        hub['resumed_keys'][_SECONDS_INFO] = True

    def before_val(self, runner) -> None:
        self._pause()

    def before_val_epoch(self, runner) -> None:
        # A validation scalar is logged by LoggerHook.after_val_epoch with the metrics.
        if self._training:
            runner.message_hub.update_scalar(f'val/{TRAIN_MINUTES_KEY}', self.seconds / 60)

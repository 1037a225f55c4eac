"""Counts and summarises the training files that ``LoadImageFromFile(on_error='skip')`` skipped."""
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from vitdense.registry import HOOKS


@HOOKS.register_module()
class SkippedFilesHook(Hook):
    """Collects ``skipped_files`` from the metainfo of each training batch's data samples (put
    there by :class:`vitdense.transforms.LoadImageFromFile` with ``on_error='skip'``, from any
    loader worker), logs each skip when it arrives, logs ``train/skipped_files`` (the running
    count), and at the end of every epoch (for an iteration-based loop: every
    ``len(train_dataloader)`` iterations, and at the end of training) summarises that epoch's
    skipped files. Costs nothing when no file is skipped.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self.total = 0
        self._epoch: list[str] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        samples = data_batch.get('data_samples', []) if isinstance(data_batch, dict) else []
        for sample in samples:
            for reason in getattr(sample, 'metainfo', {}).get('skipped_files', []):
                self.total += 1
                self._epoch.append(reason)
                runner.logger.warning(f'Skipped a training file ({self.total} so far): {reason}')
        runner.message_hub.update_scalar('train/skipped_files', self.total)
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            length = len(runner.train_dataloader)
            if length and (runner.iter + 1) % length == 0:
                self._summarise(runner, f'data epoch ending at iteration {runner.iter + 1}')

    def after_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            self._summarise(runner, f'epoch {runner.epoch + 1}')
        else:
            self._summarise(runner, f'iterations up to {runner.iter}')

    def _summarise(self, runner, when: str) -> None:
        if self._epoch:
            listing = '\n  '.join(self._epoch)
            runner.logger.warning(f'{len(self._epoch)} training files were skipped in the '
                                  f'{when} ({self.total} in all):\n  {listing}')
        self._epoch = []

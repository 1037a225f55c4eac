"""A checkpoint hook whose saves survive a kill at any moment (mmengine's CheckpointHook, atomic).

mmengine 0.10.7's ``CheckpointHook`` writes each checkpoint with a plain ``open(path, 'wb')``,
rewrites ``last_checkpoint`` in place, and deletes the oldest checkpoint (``max_keep_ckpts``)
*before* writing the new one. A process killed during a save leaves a truncated checkpoint that
``--resume`` then loads, or a pointer to a deleted file.

Why a hook subclass and a file backend, rather than a Runner subclass: ``Runner.save_checkpoint``
builds the checkpoint dict in 130 lines we would have to copy, then hands the bytes to the file
backend that the hook's ``backend_args`` name. So the least code that makes the write atomic is a
backend whose ``put`` is atomic (:class:`vitdense.engine.atomic_io.AtomicLocalBackend`), and the
least code that orders the steps right is the one hook method that does them:
write the checkpoint (atomically) -> move ``last_checkpoint`` (atomically) -> only then delete
checkpoints beyond ``max_keep_ckpts``. Everything else is mmengine's.

The class is registered as ``AtomicCheckpointHook`` and also as ``CheckpointHook`` in vitdense's
HOOKS registry: under ``default_scope='vitdense'`` every config that names mmengine's hook (ours,
a user's, and the Runner's own default) gets this one. ``mmengine.CheckpointHook`` still names
the original.
"""
import os.path as osp
import shutil

from mmengine.dist import is_main_process
from mmengine.fileio.io import _parse_uri_prefix
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper

from vitdense.engine.atomic_io import BACKEND_NAME, atomic_write, remove_stale_temporaries
from vitdense.registry import HOOKS

# Free space asked for before training, as a multiple of the model's parameter bytes: a
# checkpoint holds the weights and up to two optimizer moments (Adam), and the new one is
# written next to the previous one.
SPACE_FACTOR = 2 * 3


@HOOKS.register_module(name=['AtomicCheckpointHook', 'CheckpointHook'])
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), with atomic, correctly ordered saves.

    A local checkpoint is written to a temporary file in the same folder, fsynced and renamed;
    ``last_checkpoint`` moves to it only once it is complete, and old checkpoints are deleted
    after that. At the start of training it removes the temporary files of a killed run, and
    fails before the first iteration when the checkpoint folder has less free space than
    ``SPACE_FACTOR`` times the model's parameter bytes.
    """

    def before_train(self, runner) -> None:
        out_dir = self.out_dir if self.out_dir is not None else runner.work_dir
        local = _parse_uri_prefix(str(out_dir)) == ''
        if local and self.backend_args is None and self.file_client_args is None:
            self.backend_args = dict(backend=BACKEND_NAME)
        super().before_train(runner)
        if local and is_main_process():
            for path in remove_stale_temporaries(self.out_dir):
                runner.logger.info(f'Removed {path}, a partial save of a killed run.')
            _check_free_space(self.out_dir, runner.model)

    def _save_checkpoint_with_step(self, runner, step, meta):
        drop = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                drop = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if drop is not None:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(drop))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed saves folders
                self.file_backend.rmtree(path)


def _check_free_space(folder: str, model) -> None:
    """Raise before training when ``folder`` cannot hold the next checkpoint (an estimate)."""
    module = model.module if is_model_wrapper(model) else model
    need = SPACE_FACTOR * sum(p.numel() * p.element_size() for p in module.parameters())
    free = shutil.disk_usage(folder).free
    if free < need:
        raise OSError(f'The checkpoint folder {folder!r} has {free / 2**20:.1f} MiB free; saving '
                      f'this model needs about {need / 2**20:.1f} MiB. Free disk space or choose '
                      'another --work-dir (default_hooks.checkpoint.out_dir for checkpoints '
                      'only).')

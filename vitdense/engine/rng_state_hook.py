"""Random number generator state in checkpoints, so that a resumed run draws what the
uninterrupted run drew (drop path, dropout, DINO's denoising queries, augmentation).

mmengine reseeds on resume and fast-forwards the dataloader of an iteration-based loop: the data
pipeline's numpy draws are replayed that way, but the model's torch draws of the skipped
iterations are not, and validation draws from the same torch generator (a dataloader iterator
takes a base seed from it). Without this hook, a resumed run of a model with drop path differs
from the uninterrupted one from its first step on.
"""
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from vitdense.registry import HOOKS

META_KEY = 'rng_state'


def get_rng_state() -> dict:
    """torch (CPU and CUDA) and numpy generator states, as tensors and plain values (they load
    with ``weights_only=True``)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = dict(torch=torch.get_rng_state(),
                 numpy=[name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                        float(gauss)])
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, numpy: bool) -> None:
    """Restore what :func:`get_rng_state` returned (numpy's too when ``numpy``)."""
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
    if numpy:
        name, keys, pos, has_gauss, gauss = state['numpy']
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))


@HOOKS.register_module()
class RngStateHook(Hook):
    """Saves the generators' state with each checkpoint and restores it on ``--resume``.

    Iteration-based loops: the torch state is restored before the first resumed iteration, after
    the dataloader fast-forward (which replays the pipeline's numpy draws by itself). Epoch-based
    loops resume at an epoch start: torch and numpy states are restored before that epoch's first
    batch is drawn. Validation runs on a saved and restored torch state, so that it does not
    shift the training stream (a resumed run validates at other moments). ``load_from`` restores
    nothing. With DDP each rank restores rank 0's state (ranks differ only in their data shard).
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: dict | None = None
        self._before_val: torch.Tensor | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[META_KEY] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if getattr(runner, '_resume', False):
            self._pending = checkpoint.get('meta', {}).get(META_KEY)

    def before_train_epoch(self, runner) -> None:
        if self._pending is not None and isinstance(runner.train_loop, EpochBasedTrainLoop):
            set_rng_state(self._pending, numpy=True)
            self._pending = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self._pending is not None:
            set_rng_state(self._pending, numpy=False)
            self._pending = None

    def before_val(self, runner) -> None:
        self._before_val = torch.get_rng_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            torch.set_rng_state(self._before_val)
            self._before_val = None

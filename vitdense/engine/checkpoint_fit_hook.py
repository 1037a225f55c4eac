"""Refuses a ``load_from`` / ``--resume`` / tools/test.py checkpoint that does not fit the model.

mmengine loads a checkpoint with ``strict=False`` and only logs the keys that do not match: a
checkpoint of another model evaluates, or trains, from random weights after a warning that is
easy to miss.
"""
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner.checkpoint import find_latest_checkpoint

from vitdense.registry import HOOKS

REQUIRE = ('any', 'all')


def checkpoint_fit(model: torch.nn.Module, state_dict: dict) -> dict[str, list[str]]:
    """Compare a checkpoint's ``state_dict`` with ``model``'s: the keys that fit (same name and
    shape), the model's keys the checkpoint lacks, the checkpoint's keys the model lacks, and
    the keys whose shapes differ (``name: checkpoint shape vs model shape``)."""
    own = model.state_dict()
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v
                  for k, v in state_dict.items()}
    fit, mismatched = [], []
    for key, value in state_dict.items():
        if key in own and hasattr(value, 'shape'):
            if tuple(value.shape) == tuple(own[key].shape):
                fit.append(key)
            else:
                mismatched.append(f'{key}: {tuple(value.shape)} vs {tuple(own[key].shape)}')
    return dict(fit=fit, missing=[k for k in own if k not in state_dict],
                unexpected=[k for k in state_dict if k not in own], mismatched=mismatched)


def _listing(keys: list[str], limit: int = 5) -> str:
    more = f', ... ({len(keys)} in all)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Raises when a loaded checkpoint does not fit the model, naming the keys that do not.

    Args:
        require: 'any' (training, the default: fine-tuning from a checkpoint whose head has other
            classes is normal, so only a checkpoint of which no weight fits is refused) or 'all'
            (tools/test.py: every model weight must come from the checkpoint, with its shape).
    """

    priority = 'VERY_HIGH'

    def __init__(self, require: str = 'any'):
        if require not in REQUIRE:
            raise ValueError(f'CheckpointFitHook require must be one of {REQUIRE}, got '
                             f'{require!r}.')
        self.require = require

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if isinstance(model, BaseTTAModel):  # tools/test.py --tta: the checkpoint is its module's
            model = model.module
        state_dict = checkpoint.get('state_dict', checkpoint)
        report = checkpoint_fit(model, state_dict)
        bad = report['missing'] or report['mismatched']
        if report['fit'] and (self.require == 'any' or not bad):
            return
        source = getattr(runner, '_load_from', None)
        if source is None and getattr(runner, '_resume', False):  # --resume without a path
            source = find_latest_checkpoint(runner.work_dir)
        parts = [f"{len(report['fit'])} of the model's {len(model.state_dict())} weights fit"]
        for what in ('missing', 'mismatched', 'unexpected'):
            if report[what]:
                parts.append(f'{what} ({len(report[what])}): {_listing(report[what])}')
        raise ValueError(f"Checkpoint '{source or 'loaded'}' does not fit {type(model).__name__}: "
                         f"{'; '.join(parts)}. Is it a checkpoint of this config's model?")

"""Non-finite losses and gradients, caught at the step they happen, before they reach the weights.

mmengine trains on whatever the loss is: one NaN term makes every weight NaN at the next
optimizer step, and the run goes on logging ``loss: nan`` while its checkpoints fill with NaN.
"""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from vitdense.registry import HOOKS

POLICIES = ('raise', 'skip')
# Checkpoint meta key: the iterations skipped so far (the count continues on --resume).
META_KEY = 'nonfinite_skipped_iters'


class NonFiniteError(FloatingPointError):
    """A loss term or a gradient was NaN or infinite at a training step."""


@HOOKS.register_module()
class NonFiniteHook(Hook):
    """Checks every loss term after the forward and every gradient before the optimizer step.

    With ``policy='raise'`` (the default) the run stops with :class:`NonFiniteError`, naming the
    iteration, the loss terms that were not finite (with their values) and the first parameters
    whose gradients were not; the weights are left as they were before that step. With
    ``policy='skip'`` the optimizer step is skipped (gradients dropped), the skip is logged with
    the same details and counted (``train/nonfinite_skips`` in the logs, a summary at the end of
    training, the count kept in checkpoints); more than ``max_skips`` skips stop the run.

    Under mmengine's ``AmpOptimWrapper`` (fp16 on GPU), gradients are not checked: the loss
    scaler skips steps whose scaled gradients overflow and lowers the scale, which is its normal
    working, not a fault. Non-finite loss terms are still faults there.

    Under DDP a non-finite loss on one rank makes every rank's all-reduced gradients non-finite,
    so all ranks skip the same step.

    It works by wrapping two bound methods of the run's objects in ``before_train``: the
    model's ``parse_losses`` (to see the terms) and the optimizer wrapper's ``step``.

    Args:
        policy: 'raise' or 'skip'.
        max_skips: with 'skip', stop after this many skipped steps (None: never).
    """

    priority = 'VERY_HIGH'

    def __init__(self, policy: str = 'raise', max_skips: int | None = None):
        if policy not in POLICIES:
            raise ValueError(f'NonFiniteHook policy must be one of {POLICIES}, got {policy!r}.')
        if max_skips is not None and max_skips < 0:
            raise ValueError(f'NonFiniteHook max_skips must be >= 0 or None, got {max_skips}.')
        self.policy = policy
        self.max_skips = max_skips
        self.skipped: list[int] = []  # iterations (1-based) whose step was skipped
        self._bad_terms: dict[str, float] = {}

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        wrapper = runner.optim_wrapper
        if not isinstance(wrapper, OptimWrapper):
            raise TypeError(f'NonFiniteHook supports one OptimWrapper, got {type(wrapper)}.')
        parse_losses, step = model.parse_losses, wrapper.step
        check_grads = not isinstance(wrapper, AmpOptimWrapper)
        params = [p for group in wrapper.optimizer.param_groups for p in group['params']]
        names = {id(p): n for n, p in model.named_parameters()}

        def checked_parse_losses(losses):
            self._bad_terms.update(nonfinite_terms(losses))
            return parse_losses(losses)

        def checked_step(**kwargs):
            terms, self._bad_terms = self._bad_terms, {}
            grads = nonfinite_grads(params, names) if check_grads else []
            if terms or grads:
                return self._fault(runner, terms, grads)
            return step(**kwargs)

        model.parse_losses = checked_parse_losses
        wrapper.step = checked_step

    def _fault(self, runner, terms: dict[str, float], grads: list[str]) -> None:
        it = runner.iter + 1
        what = []
        if terms:
            what.append('loss terms ' + ', '.join(f'{k}={v}' for k, v in terms.items()))
        if grads:
            more = f' (and {len(grads) - 3} more)' if len(grads) > 3 else ''
            what.append(f'gradients of {len(grads)} parameters: ' + ', '.join(grads[:3]) + more)
        detail = f"Non-finite values at iteration {it}: {'; '.join(what)}."
        if self.policy == 'raise':
            raise NonFiniteError(
                f'{detail} The weights were not updated with them. To skip such steps and count '
                "them instead, give the config's NonFiniteHook policy='skip' (with "
                'configs/_base_/default_runtime.py: --cfg-options custom_hooks.1.policy=skip); to '
                'find the cause, lower the learning rate, clip gradients, or check the data of '
                'this iteration.')
        self.skipped.append(it)
        runner.logger.warning(f'{detail} Step skipped ({len(self.skipped)} so far).')
        if self.max_skips is not None and len(self.skipped) > self.max_skips:
            raise NonFiniteError(f'{detail} {len(self.skipped)} steps skipped, more than '
                                 f'NonFiniteHook max_skips={self.max_skips}: stopping.')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        runner.message_hub.update_scalar('train/nonfinite_skips', len(self.skipped))

    def after_train(self, runner) -> None:
        if self.skipped:
            runner.logger.warning(
                f'{len(self.skipped)} optimizer steps were skipped for non-finite losses or '
                f'gradients, at iterations {self.skipped}.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[META_KEY] = list(self.skipped)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.skipped = list(checkpoint.get('meta', {}).get(META_KEY, []))


def nonfinite_terms(losses: dict) -> dict[str, float]:
    """The loss terms (keys containing 'loss', as mmengine sums them) that are not finite, with
    a value each (the first non-finite element of a tensor or list)."""
    bad = {}
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            v = torch.as_tensor(v).detach()
            finite = torch.isfinite(v)
            if not bool(finite.all()):
                bad[name] = float(v[~finite].flatten()[0])
                break
    return bad


def nonfinite_grads(params: list[torch.Tensor], names: dict[int, str]) -> list[str]:
    """Names of the parameters whose gradients hold NaN or inf (one check for the common case)."""
    grads = [(p, p.grad) for p in params if p.grad is not None]
    if not grads:
        return []
    finite = torch.stack([torch.isfinite(g).all() for _, g in grads])
    if bool(finite.all()):
        return []
    return [names.get(id(p), f'<unnamed {tuple(p.shape)}>')
            for (p, _), ok in zip(grads, finite.tolist()) if not ok]

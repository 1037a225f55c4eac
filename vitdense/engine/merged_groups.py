"""An optimizer constructor that gives the optimizer one group per distinct set of options."""
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from vitdense.registry import OPTIM_WRAPPER_CONSTRUCTORS


def merge_param_groups(groups: list[dict]) -> list[dict]:
    """Groups with equal options (everything but ``params``) merged, in first-seen order.

    The updates are the same: every option a parameter sees is unchanged. Only the number of
    groups falls, and with it the per-group cost of a step: torch's fused and foreach kernels
    run once per group, and mmengine's ``paramwise_cfg`` gives every tensor a group of its own.
    """
    merged: list[tuple[dict, dict]] = []  # (options, merged group)
    for group in groups:
        options = {k: v for k, v in group.items() if k != 'params'}
        target = next((m for opts, m in merged if opts == options), None)
        if target is None:
            merged.append((options, dict(group, params=list(group['params']))))
        else:
            target['params'].extend(group['params'])
    return [m for _, m in merged]


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MergedGroupsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's constructor (``paramwise_cfg`` as there), its groups merged by options.

    With ``paramwise_cfg=dict(norm_decay_mult=0.0)`` the demo detector's 173 one-tensor groups
    become 2 (decay, no decay); with ``AdamW(fused=True)`` its optimizer step (with clipping) falls
    from 25.5 to 11.5 ms on a 2-core AMX Xeon, the whole step 265 -> 247 ms (docs/benchmarks.md,
    issue 8's eleventh round). An optimizer state saved with the per-tensor groups does not load
    into the merged ones (torch checks the group count): resume a run with the constructor it
    started with.
    """

    def add_params(self, params: list, module: nn.Module, prefix: str = '',
                   is_dcn_module: int | float | None = None) -> None:
        """mmengine's recursive ``add_params``; the outermost call merges what it collected."""
        start = len(params)
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix:  # a recursive call: the outermost one merges
            return
        merged = merge_param_groups(params[start:])
        print_log(f'optimizer: {len(params) - start} parameter groups merged into '
                  f'{len(merged)} with distinct options', logger='current')
        params[start:] = merged

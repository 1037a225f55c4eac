"""FLOPs and parameters of a model, per module, at one input size (mmdet's ``get_flops``).

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on one forward pass in
``tensor`` mode (backbone, neck and head; no box decoding, NMS or resizing of the output), a
multiply-add counting 2, for the matmuls, convolutions and attentions (SDPA, CPU kernels
included: :mod:`vitdense.utils.benchmark`). Element-wise operations and normalisation layers
are not counted, as in fvcore and mmengine's counters.
"""
from dataclasses import dataclass

import torch

from vitdense.evaluation.table import format_table
from vitdense.utils.benchmark import count_flops_per_module

from .synthetic_inputs import synthetic_batch


@dataclass(frozen=True)
class ModuleCost:
    """One module's share of the model.

    Attributes:
        name: its dotted name in the model ('' for the model itself).
        depth: the number of dots in ``name`` plus one (0 for the model).
        params: its parameters, its children's included.
        flops: FLOPs of its forward calls in one forward pass of the model, children included
            (a module called several times, like a head shared by the pyramid levels, sums them).
    """

    name: str
    depth: int
    params: int
    flops: int


@dataclass(frozen=True)
class Complexity:
    """A model's cost at one input size.

    Attributes:
        input_shape: (H, W) of the images asked for.
        padded_shape: (H, W) of the network input after the preprocessor's padding.
        modules: every module, model first, in ``named_modules`` order.
    """

    input_shape: tuple[int, int]
    padded_shape: tuple[int, int]
    modules: list[ModuleCost]

    @property
    def total(self) -> ModuleCost:
        return self.modules[0]


def model_complexity(model: torch.nn.Module, height: int, width: int) -> Complexity:
    """FLOPs and parameters of ``model`` (from :func:`init_model`) on one ``height`` x ``width``
    image, per module."""
    data = synthetic_batch(model, height, width)
    # Not torch.no_grad(): FlopCounterMode's module tracker fails on a parameter view made under
    # it (DINO's queries). Without parameters that require grad, no graph is recorded either.
    requires_grad = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        total, counted = count_flops_per_module(
            lambda: model(data['inputs'], data['data_samples'], mode='tensor'))
    finally:
        for p, flag in zip(model.parameters(), requires_grad):
            p.requires_grad_(flag)
    root = type(model).__name__

    def flops(name: str, module: torch.nn.Module) -> int:
        # A container that is iterated, never called (a ModuleList of blocks), has no count of
        # its own: it costs what its children cost.
        key = f'{root}.{name}' if name else root
        if key in counted:
            return counted[key]
        return sum(flops(f'{name}.{child}' if name else child, m)
                   for child, m in module.named_children())

    modules = [ModuleCost(name, name.count('.') + 1 if name else 0,
                          sum(p.numel() for p in module.parameters()),
                          total if not name else flops(name, module))
               for name, module in model.named_modules()]
    return Complexity((height, width), tuple(data['inputs'].shape[-2:]), modules)


def format_complexity(cost: Complexity, max_depth: int = 2) -> str:
    """A table of the modules down to ``max_depth`` (those with parameters or FLOPs): params
    (M), their share, GFLOPs, their share; then the totals."""
    total = cost.total
    rows = []
    for m in cost.modules:
        if m.depth > max_depth or not (m.params or m.flops):
            continue
        name = '  ' * m.depth + (m.name.rsplit('.', 1)[-1] if m.name else '(model)')
        rows.append((name, f'{m.params / 1e6:.3f}', f'{100 * m.params / max(total.params, 1):.1f}',
                     f'{m.flops / 1e9:.3f}', f'{100 * m.flops / max(total.flops, 1):.1f}'))
    lines = [format_table(('module', 'params (M)', 'params %', 'GFLOPs', 'FLOPs %'), rows)]
    h, w = cost.input_shape
    ph, pw = cost.padded_shape
    lines += ['', f'Input shape: {h} x {w} (padded to {ph} x {pw})',
              f'Flops: {total.flops / 1e9:.3f} GFLOPs', f'Params: {total.params / 1e6:.3f} M']
    return '\n'.join(lines)

"""``compile=`` from config (mmengine's key): ``torch.compile`` the network, not the step.

mmengine 0.10.7 compiles ``model.train_step``, which holds the optimizer step; on torch 2.13
dynamo fails inside it (``InternalTorchDynamoError: 'UserDefinedDictVariable' object has no
attribute 'items'``, in ``torch/_dynamo/variables/optimizer.py``), so ``compile=True`` crashed
every training. It also compiles nothing for validation and test. Here the network's parts are
compiled in place (``nn.Module.compile``: the state dict keeps its keys, so checkpoints and
resume are unchanged): the backbone, the neck and the heads, whose ``loss`` and ``predict`` call
the compiled forward. The data preprocessor, the loss, target assignment, post-processing and the
optimizer step stay eager.

Sizes: without ``dynamic`` in the config, vitdense passes ``dynamic=False``: one graph per input
size (torch's cache holds 8 per part; past that a new size runs eager, with a warning). torch's
own default recompiles with symbolic sizes at the second size, and there inductor (torch 2.13)
failed on the demo detector (docs/distributed.md): two causes are fixed here (SimpleFPN, the
ViT's output maps), but a convolution of a map made from tokens (the conditional PE, ViTDet's
residual blocks) still fails. ``compile=dict(dynamic=True)`` asks for symbolic sizes anyway: one
graph for every size, where the model compiles so.

Set it in a config as mmengine documents: ``compile = True`` or ``compile = dict(backend=...,
mode=..., dynamic=True)`` (the keywords of ``torch.compile``).
"""
from mmengine.model import BaseTTAModel, is_model_wrapper
from torch import nn

# The parts compiled, where a model has them: detectors, segmentors and classifiers.
COMPILED_PARTS = ('backbone', 'neck', 'bbox_head', 'decode_head', 'auxiliary_head', 'head')


def compile_options(compile_cfg) -> dict | None:
    """The keywords of ``torch.compile`` that a config's ``compile`` value asks for, or None
    where it asks for nothing (None or False)."""
    if compile_cfg is None or compile_cfg is False:
        return None
    if compile_cfg is True:
        compile_cfg = {}
    if not isinstance(compile_cfg, dict):
        raise TypeError(f'The config key `compile` must be True, False or a dict of '
                        f'torch.compile keywords, e.g. dict(dynamic=True); got {compile_cfg!r}')
    options = dict(compile_cfg)
    options.setdefault('dynamic', False)  # static sizes unless asked (module docstring)
    return options


def compile_model(model: nn.Module, **options) -> list[str]:
    """Compile ``model``'s parts in place (see the module docstring); returns their names.

    ``model`` may be a model wrapper (DDP) or a test-time-augmentation model: the model inside is
    compiled. Calling it again compiles nothing twice.
    """
    if is_model_wrapper(model):
        model = model.module
    if isinstance(model, BaseTTAModel):
        model = model.module
    compiled = []
    for name in COMPILED_PARTS:
        part = getattr(model, name, None)
        if isinstance(part, nn.Module):
            if getattr(part, '_compiled_call_impl', None) is None:
                part.compile(**options)
            compiled.append(name)
    if not compiled:
        raise ValueError(f'compile: {type(model).__name__} has none of the parts '
                         f'{COMPILED_PARTS} to compile; remove `compile` from the config.')
    return compiled


def maybe_compile(runner, target: str = 'train_step') -> None:
    """``Runner._maybe_compile``'s replacement (installed by the compat layer): compile the
    network's parts when the config's ``compile`` asks; ``target`` is mmengine's, unused."""
    options = compile_options(runner.cfg.get('compile', None))
    if options is None:
        return
    parts = compile_model(runner.model, **options)
    runner.logger.info(f'torch.compile({options}) on {", ".join(parts)}; the first iterations '
                       'at each new input size are slow while it compiles.')

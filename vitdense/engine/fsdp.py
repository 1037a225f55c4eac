"""FSDP for ViT configs through mmengine's FlexibleRunner + FSDPStrategy, on GPU and on CPU.

A config opts in by taking ``configs/_base_/strategies/fsdp_vit.py`` as a base
(``runner_type='FlexibleRunner'`` and an ``FSDPStrategy`` with :class:`PortableFSDP`,
:func:`vit_block_policy`, :func:`is_vit_block` and a full state dict) and setting
``optim_wrapper = dict(type='ShardedOptimWrapper')``; the ViT-L/H configs in ``configs/fcos``
do.

Each transformer block becomes its own FSDP unit (its parameters are gathered only while it
runs), and its activations are recomputed in the backward pass instead of being kept.
``ShardedOptimWrapper`` clips by the norm of the whole model's gradients, not the rank's shard.
On a machine without CUDA, :func:`vitdense.engine.compat.setup_distributed` also swaps mmengine's
``MMFullyShardedDataParallel`` for :class:`PortableFSDP`.
"""
import torch
from mmengine.model import MMFullyShardedDataParallel
from torch import nn
from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy

from vitdense.models.layers.block import Block
from vitdense.registry import FUNCTIONS, MODEL_WRAPPERS

from .sync_bn import convert_sync_batchnorm


@FUNCTIONS.register_module()
def vit_block_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """FSDP auto-wrap policy: every ViT :class:`Block` is one FSDP unit (the rest of the model,
    stem, neck and head, stays in the root unit)."""
    return transformer_auto_wrap_policy(module, recurse, nonwrapped_numel,
                                        transformer_layer_cls={Block})


@FUNCTIONS.register_module()
def is_vit_block(module: nn.Module) -> bool:
    """``check_fn`` of FSDPStrategy's ``activation_checkpointing``: recompute each ViT block."""
    return isinstance(module, Block)


@MODEL_WRAPPERS.register_module()
class PortableFSDP(MMFullyShardedDataParallel):
    """mmengine's FSDP wrapper with a device that exists: FSDPStrategy passes
    ``device_id=LOCAL_RANK``, a CUDA index; without CUDA the module stays on the CPU
    (``device_id=torch.device('cpu')``), where FSDP runs on the gloo backend.

    FSDPStrategy does not apply ``sync_bn`` (DDPStrategy does); ``sync_bn='torch'`` here converts
    the model's BatchNorms before sharding (see :mod:`vitdense.engine.sync_bn`).

    Args:
        module: the model to shard.
        device_id: the CUDA device (ignored without CUDA).
        sync_bn: None, or 'torch' to synchronise BatchNorm statistics over the ranks.
        **fsdp_options: the options of ``MMFullyShardedDataParallel`` (sharding_strategy,
            auto_wrap_policy, ...), passed on unchanged; an unknown one raises there.
    """

    def __init__(self, module: nn.Module, device_id: int | torch.device | None = None,
                 sync_bn: str | None = None, **fsdp_options):
        if not torch.cuda.is_available():
            device_id = torch.device('cpu')
        if sync_bn is not None:
            module = convert_sync_batchnorm(module, sync_bn)
        super().__init__(module, device_id=device_id, **fsdp_options)

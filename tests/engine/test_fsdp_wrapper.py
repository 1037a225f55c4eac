"""PortableFSDP with the ViT-block policy and activation checkpointing, as FSDPStrategy applies
them, on a 1-process gloo group in this process: each block is an FSDP unit wrapped for
recomputation, the loss and gradients equal the plain model's (tests/distributed/test_fsdp.py
trains it on 2 processes)."""
import functools

import pytest
import torch
import torch.distributed as dist
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
    CheckpointWrapper,
    apply_activation_checkpointing,
)
from torch.distributed.fsdp import FullyShardedDataParallel

from vitdense.engine import PortableFSDP
from vitdense.models.layers.block import Block
from vitdense.registry import FUNCTIONS, MODELS
from vitdense.utils import register_all_modules

register_all_modules()


@pytest.fixture
def one_process_group():
    store = dist.HashStore()
    dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def tiny_vit() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build(dict(type='ViT', arch='test', img_size=(32, 48), out_indices=(-1, )))


def test_blocks_are_fsdp_units_with_checkpointing(one_process_group):
    plain, sharded = tiny_vit(), tiny_vit()
    model = PortableFSDP(sharded, auto_wrap_policy=FUNCTIONS.get('vit_block_policy'),
                         sync_bn='torch')
    apply_activation_checkpointing(model, check_fn=FUNCTIONS.get('is_vit_block'))
    units = [m for m in model.modules() if isinstance(m, FullyShardedDataParallel)]
    assert len(units) == 1 + len(plain.blocks)  # the root and one per block
    wrapped = [m for m in model.modules() if isinstance(m, CheckpointWrapper)]
    assert len(wrapped) == len(plain.blocks)
    assert all(isinstance(w._checkpoint_wrapped_module, Block) for w in wrapped)

    x = torch.randn(2, 3, 32, 48)
    ref = sum(v.square().sum() for v in plain(x).values())
    out = sum(v.square().sum() for v in model(x).values())
    torch.testing.assert_close(out, ref)
    ref.backward()
    out.backward()
    grads = {n.replace('_fsdp_wrapped_module.', '').replace('_checkpoint_wrapped_module.', ''):
             p.grad for n, p in model.named_parameters()}
    for name, p in plain.named_parameters():
        torch.testing.assert_close(grads[name].reshape(p.shape), p.grad, atol=1e-5, rtol=1e-4)


def test_policy_wraps_only_blocks():
    policy = functools.partial(FUNCTIONS.get('vit_block_policy'), recurse=False,
                               nonwrapped_numel=0)
    vit = tiny_vit()
    assert policy(vit.blocks[0]) and not policy(vit.patch_embed)

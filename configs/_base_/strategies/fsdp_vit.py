# FSDP through mmengine's FlexibleRunner (docs/distributed.md, "FSDP"): every ViT block its own
# FSDP unit (its weights gathered only while it runs), its activations recomputed in the backward
# pass, SyncBN, and full checkpoints that tools/test.py and the plain Runner load. A leaf adds
# `optim_wrapper = dict(type='ShardedOptimWrapper')` (clipping by the global gradient norm).
# tests/distributed/test_fsdp.py trains with this strategy on 2 CPU processes and compares the
# weights with 1 process's.
runner_type = 'FlexibleRunner'
# offload_to_cpu=True (mmengine's state_dict_cfg='full') saves GPU memory, but crashed the saving
# rank on a CPU-only machine; a GPU run may switch it on.
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(type='PortableFSDP', sync_bn='torch',
                       auto_wrap_policy='vitdense.vit_block_policy'),
    activation_checkpointing=dict(check_fn='vitdense.is_vit_block'),
    state_dict_cfg=dict(
        state_dict_type='FULL_STATE_DICT',
        state_dict_config=dict(type='FullStateDictConfig', offload_to_cpu=False,
                               rank0_only=True),
        optim_state_dict_config=dict(type='FullOptimStateDictConfig', offload_to_cpu=False,
                                     rank0_only=True)))

from .compat import apply_compat, setup_distributed
from .fsdp import PortableFSDP, is_vit_block, vit_block_policy
from .layer_decay import LayerDecayOptimWrapperConstructor  # noqa: F401
from .optim_wrapper import AutocastOptimWrapper, ShardedOptimWrapper
from .sync_bn import PortableSyncBatchNorm, convert_sync_batchnorm
from .train_time_hook import TRAIN_MINUTES_KEY, TrainTimeHook

__all__ = ['apply_compat', 'setup_distributed', 'AutocastOptimWrapper', 'ShardedOptimWrapper',
           'TRAIN_MINUTES_KEY', 'TrainTimeHook', 'PortableFSDP', 'is_vit_block', 'vit_block_policy',
           'PortableSyncBatchNorm', 'convert_sync_batchnorm']

from .atomic_io import AtomicLocalBackend, atomic_write
from .checkpoint_fit_hook import CheckpointFitHook
from .checkpoint_hook import AtomicCheckpointHook
from .compat import apply_compat, setup_distributed
from .eval_progress_hook import EvalProgressHook
from .fsdp import PortableFSDP, is_vit_block, vit_block_policy
from .layer_decay import LayerDecayOptimWrapperConstructor  # noqa: F401
from .merged_groups import MergedGroupsOptimWrapperConstructor, merge_param_groups
from .nonfinite_hook import NonFiniteError, NonFiniteHook
from .optim_wrapper import AutocastOptimWrapper, ShardedOptimWrapper
from .resource_monitor_hook import ResourceMonitorHook
from .rng_state_hook import RngStateHook
from .skipped_files_hook import SkippedFilesHook
from .sync_bn import PortableSyncBatchNorm, convert_sync_batchnorm
from .train_time_hook import TRAIN_MINUTES_KEY, TrainTimeHook

__all__ = ['AtomicCheckpointHook', 'AtomicLocalBackend', 'AutocastOptimWrapper',
           'CheckpointFitHook', 'EvalProgressHook', 'MergedGroupsOptimWrapperConstructor',
           'NonFiniteError', 'NonFiniteHook', 'PortableFSDP', 'PortableSyncBatchNorm',
           'ResourceMonitorHook', 'RngStateHook', 'ShardedOptimWrapper', 'SkippedFilesHook',
           'TRAIN_MINUTES_KEY', 'TrainTimeHook', 'apply_compat', 'atomic_write',
           'convert_sync_batchnorm', 'is_vit_block', 'merge_param_groups', 'setup_distributed',
           'vit_block_policy']

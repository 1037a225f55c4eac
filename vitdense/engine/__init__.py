from .compat import apply_compat, setup_distributed
from .eval_progress_hook import EvalProgressHook
from .layer_decay import LayerDecayOptimWrapperConstructor  # noqa: F401
from .optim_wrapper import AutocastOptimWrapper
from .train_time_hook import TRAIN_MINUTES_KEY, TrainTimeHook

__all__ = ['apply_compat', 'setup_distributed', 'AutocastOptimWrapper', 'EvalProgressHook',
           'TRAIN_MINUTES_KEY', 'TrainTimeHook']

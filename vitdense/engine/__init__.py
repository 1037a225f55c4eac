from .compat import apply_compat, setup_distributed
from .layer_decay import LayerDecayOptimWrapperConstructor  # noqa: F401
from .optim_wrapper import AutocastOptimWrapper

__all__ = ['apply_compat', 'setup_distributed', 'AutocastOptimWrapper']

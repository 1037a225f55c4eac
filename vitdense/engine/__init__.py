from .compat import apply_compat, setup_distributed
from .optim_wrapper import AutocastOptimWrapper

__all__ = ['apply_compat', 'setup_distributed', 'AutocastOptimWrapper']

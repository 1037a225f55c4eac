from .multi_level_neck import MultiLevelNeck
from .resample import resample_stage
from .simple_fpn import SimpleFPN

__all__ = ['MultiLevelNeck', 'SimpleFPN', 'resample_stage']

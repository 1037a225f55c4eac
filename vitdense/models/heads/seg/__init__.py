from .decode_head import BaseDecodeHead, default_in_features
from .dpt_head import DPTHead
from .fcn_head import FCNHead
from .fpn_fuse_head import FPNFuseHead
from .uper_head import UPerHead

__all__ = ['BaseDecodeHead', 'DPTHead', 'FCNHead', 'FPNFuseHead', 'UPerHead',
           'default_in_features']

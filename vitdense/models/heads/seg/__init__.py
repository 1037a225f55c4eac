from .decode_head import BaseDecodeHead, default_in_features
from .dpt_head import DPTHead
from .fcn_head import FCNHead
from .fpn_fuse_head import FPNFuseHead
from .linear_head import LinearHead
from .segmenter_head import SegmenterMaskHead
from .setr_mla_head import SETRMLAHead
from .setr_up_head import SETRUPHead
from .uper_head import UPerHead

__all__ = ['BaseDecodeHead', 'DPTHead', 'FCNHead', 'FPNFuseHead', 'LinearHead', 'SETRMLAHead',
           'SETRUPHead', 'SegmenterMaskHead', 'UPerHead', 'default_in_features']

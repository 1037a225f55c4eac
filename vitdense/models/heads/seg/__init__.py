from .decode_head import BaseDecodeHead, default_in_features
from .fpn_fuse_head import FPNFuseHead

__all__ = ['BaseDecodeHead', 'FPNFuseHead', 'default_in_features']

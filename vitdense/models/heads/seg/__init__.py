from .fpn_fuse_head import FPNFuseHead

__all__ = ['FPNFuseHead']

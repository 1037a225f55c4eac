"""Pretrained-weight conversion into vitdense ViT keys, with per-checkpoint PE metadata."""
from . import deit, detectron2, dinov2, hf, mae, mmpretrain, timm  # noqa: F401  (register sources)
from .core import SOURCES, convert_checkpoint, register_source, unwrap_state_dict
from .io import convert_file, read_checkpoint
from .loader import LoadReport, load_pretrained, read_converted

__all__ = ['LoadReport', 'SOURCES', 'convert_checkpoint', 'convert_file', 'load_pretrained',
           'read_checkpoint', 'read_converted', 'register_source', 'unwrap_state_dict']

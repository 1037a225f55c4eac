"""Pretrained-weight conversion into vitdense ViT keys, with per-checkpoint PE metadata.

Pure key renaming and metadata; loading into a backbone (where position encodings adapt their
tensors) is ``vitdense.models.backbones.load_pretrained``.
"""
from . import deit, detectron2, dinov2, hf, mae, mmpretrain, timm  # noqa: F401  (register sources)
from .core import SOURCES, convert_checkpoint, register_source, unwrap_state_dict
from .io import convert_file, read_checkpoint, read_converted

__all__ = ['SOURCES', 'convert_checkpoint', 'convert_file', 'read_checkpoint', 'read_converted',
           'register_source', 'unwrap_state_dict']

"""Transformer parts of the DETR family: attention, deformable attention, encoder and decoder
layers and stacks."""
from .attention import MultiheadAttention
from .deformable_attention import MultiScaleDeformableAttention
from .deformable_transformer import (
    DeformableDecoder,
    DeformableDecoderLayer,
    DeformableEncoder,
    DeformableEncoderLayer,
    encoder_reference_points,
    inverse_sigmoid,
)
from .detr_layers import FFN, MLP, DetrDecoderLayer, DetrEncoderLayer

__all__ = [
    'FFN', 'MLP', 'DeformableDecoder', 'DeformableDecoderLayer', 'DeformableEncoder',
    'DeformableEncoderLayer', 'DetrDecoderLayer', 'DetrEncoderLayer',
    'MultiScaleDeformableAttention', 'MultiheadAttention', 'encoder_reference_points',
    'inverse_sigmoid',
]

"""Deformable DETR's encoder and decoder stacks, with iterative box refinement.

Zhu et al. 2021, "Deformable DETR: Deformable Transformers for End-to-End Object Detection",
arXiv 2010.04159; look forward twice from Zhang et al. 2023, "DINO: DETR with Improved DeNoising
Anchor Boxes for End-to-End Object Detection", arXiv 2203.03605. Every attention over the feature
maps is multi-scale deformable attention; reference points live in [0, 1] of the valid (unpadded)
image and are scaled by each level's valid ratio before sampling.
"""
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor, nn

from vitdense.models.utils.ms_deform_attn import SpatialShapes, level_shapes

from .attention import MultiheadAttention
from .deformable_attention import MultiScaleDeformableAttention
from .detr_layers import FFN, with_pos


def inverse_sigmoid(x: Tensor, eps: float = 1e-5) -> Tensor:
    """logit(x) with x clamped to [eps, 1 - eps]."""
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def encoder_reference_points(spatial_shapes: Sequence[tuple[int, int]],
                             valid_ratios: Tensor) -> Tensor:
    """Each token's cell centre, normalised by its level's valid size, seen from every level.

    Args:
        spatial_shapes: (H_l, W_l) of each level.
        valid_ratios: (B, L, 2) valid fraction (w, h) of each level.

    Returns:
        (B, S, L, 2) xy reference points, S = sum of H_l * W_l.
    """
    device, points = valid_ratios.device, []
    for level, (height, width) in enumerate(spatial_shapes):
        ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32) + 0.5,
                                torch.arange(width, device=device, dtype=torch.float32) + 0.5,
                                indexing='ij')  # (H, W) each
        ys = ys.reshape(1, -1) / (valid_ratios[:, None, level, 1] * height)  # (B, H * W)
        xs = xs.reshape(1, -1) / (valid_ratios[:, None, level, 0] * width)
        points.append(torch.stack((xs, ys), dim=-1))  # (B, H * W, 2)
    ref = torch.cat(points, dim=1)  # (B, S, 2)
    return ref[:, :, None] * valid_ratios[:, None]  # (B, S, L, 2)


class DeformableEncoderLayer(nn.Module):
    """Deformable self-attention over all levels, then an FFN (post-norm).

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        num_levels: feature levels.
        num_points: sampling points per head and level.
        ffn_dims: hidden width of the FFN.
        dropout: dropout after attention and in the FFN.
    """

    def __init__(self, embed_dims: int, num_heads: int, num_levels: int, num_points: int,
                 ffn_dims: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.self_attn = MultiScaleDeformableAttention(embed_dims, num_heads, num_levels,
                                                       num_points)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, ffn_dims, dropout)
        self.norm2 = nn.LayerNorm(embed_dims)

    def forward(self, x: Tensor, pos: Tensor, reference_points: Tensor,
                spatial_shapes: SpatialShapes, level_start_index: Tensor,
                padding_mask: Optional[Tensor]) -> Tensor:
        """x, pos: (B, S, C); reference_points: (B, S, L, 2) -> (B, S, C)."""
        attn = self.self_attn(with_pos(x, pos), reference_points, x, spatial_shapes,
                              level_start_index, key_padding_mask=padding_mask)
        x = self.norm1(x + self.dropout(attn))
        return self.norm2(x + self.ffn(x))


class DeformableDecoderLayer(nn.Module):
    """Query self-attention, deformable cross-attention to the memory, FFN (post-norm).

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        num_levels: feature levels.
        num_points: sampling points per head and level.
        ffn_dims: hidden width of the FFN.
        dropout: dropout after attention and in the FFN.
    """

    def __init__(self, embed_dims: int, num_heads: int, num_levels: int, num_points: int,
                 ffn_dims: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(embed_dims, num_heads, dropout=dropout)
        self.cross_attn = MultiScaleDeformableAttention(embed_dims, num_heads, num_levels,
                                                        num_points)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, ffn_dims, dropout)
        self.norm3 = nn.LayerNorm(embed_dims)

    def forward(self, query: Tensor, query_pos: Tensor, reference_points: Tensor, memory: Tensor,
                spatial_shapes: SpatialShapes, level_start_index: Tensor,
                memory_mask: Optional[Tensor], self_attn_mask: Optional[Tensor] = None) -> Tensor:
        """query, query_pos: (B, Q, C); reference_points: (B, Q, L, 4) cxcywh; memory: (B, S, C);
        memory_mask: (B, S) True at padding; self_attn_mask: (Q, Q) True where attention is
        blocked -> (B, Q, C)."""
        q = with_pos(query, query_pos)
        query = self.norm1(query + self.dropout(self.self_attn(q, q, query,
                                                               attn_mask=self_attn_mask)))
        attn = self.cross_attn(with_pos(query, query_pos), reference_points, memory,
                               spatial_shapes, level_start_index, key_padding_mask=memory_mask)
        query = self.norm2(query + self.dropout(attn))
        return self.norm3(query + self.ffn(query))


class DeformableEncoder(nn.Module):
    """A stack of :class:`DeformableEncoderLayer` (zero layers returns the input).

    Args:
        num_layers: depth.
        layer: keyword arguments of every :class:`DeformableEncoderLayer`.
    """

    def __init__(self, num_layers: int, **layer: int | float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DeformableEncoderLayer(**layer) for _ in range(num_layers))

    def forward(self, x: Tensor, pos: Tensor, spatial_shapes: SpatialShapes,
                level_start_index: Tensor, valid_ratios: Tensor,
                padding_mask: Optional[Tensor]) -> Tensor:
        """x, pos: (B, S, C) flattened levels; valid_ratios: (B, L, 2) -> (B, S, C)."""
        if not self.layers:
            return x
        shapes = level_shapes(spatial_shapes)
        ref = encoder_reference_points(shapes, valid_ratios)  # (B, S, L, 2)
        for layer in self.layers:
            x = layer(x, pos, ref, spatial_shapes, level_start_index, padding_mask)
        return x


class DeformableDecoder(nn.Module):
    """A stack of :class:`DeformableDecoderLayer` refining one box per query, layer by layer.

    After layer ``i`` the box head ``reg_branches[i]`` predicts a logit-space offset to the
    reference box: ``box_i = sigmoid(delta_i + logit(ref_i))``, and layer ``i + 1`` starts from
    ``box_i`` detached. The returned ``box_i`` carries gradient to layer ``i``; with
    ``look_forward_twice`` (DINO) its ``ref_i`` is the undetached ``box_{i-1}``, so layer ``i``'s
    loss also trains the layer before it.

    Args:
        num_layers: depth.
        post_norm: a LayerNorm on every layer's output (DINO), or none (Deformable DETR).
        look_forward_twice: refine from the undetached previous box (DINO).
        layer: keyword arguments of every :class:`DeformableDecoderLayer`.
    """

    def __init__(self, num_layers: int, post_norm: bool = False, look_forward_twice: bool = False,
                 **layer: int | float) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'DeformableDecoder: num_layers must be >= 1, got {num_layers}')
        self.layers = nn.ModuleList(DeformableDecoderLayer(**layer) for _ in range(num_layers))
        self.norm = nn.LayerNorm(layer['embed_dims']) if post_norm else nn.Identity()
        self.look_forward_twice = look_forward_twice

    def forward(self, query: Tensor, reference: Tensor, memory: Tensor,
                memory_mask: Optional[Tensor], spatial_shapes: SpatialShapes,
                level_start_index: Tensor,
                valid_ratios: Tensor, reg_branches: nn.ModuleList,
                query_pos: Optional[Tensor] = None,
                pos_from_reference: Optional[Callable[[Tensor], Tensor]] = None,
                self_attn_mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """Decode the queries.

        Args:
            query: (B, Q, C) content queries.
            reference: (B, Q, 4) initial reference boxes, cxcywh in [0, 1] (no gradient).
            memory: (B, S, C) encoder output; memory_mask: (B, S) True at padding.
            spatial_shapes, level_start_index: (L, 2) (or L (H, W) pairs) and (L,) of the
                flattened levels.
            valid_ratios: (B, L, 2).
            reg_branches: per layer a box head (B, Q, C) -> (B, Q, 4) logit offsets.
            query_pos: (B, Q, C) fixed query positions, or None to compute them every layer
                with ``pos_from_reference(reference (B, Q, 4)) -> (B, Q, C)`` (DINO).
            self_attn_mask: (Q, Q) True where query self-attention is blocked.

        Returns:
            hidden: (num_layers, B, Q, C) every layer's (normed) output.
            boxes: (num_layers, B, Q, 4) every layer's refined boxes, cxcywh in [0, 1].
        """
        if (query_pos is None) == (pos_from_reference is None):
            raise ValueError('DeformableDecoder: give exactly one of query_pos and '
                             'pos_from_reference')
        if len(reg_branches) != len(self.layers):
            raise ValueError(f'DeformableDecoder: {len(reg_branches)} reg_branches for '
                             f'{len(self.layers)} layers; give one box head per layer')
        ratios = torch.cat([valid_ratios, valid_ratios], dim=-1)[:, None]  # (B, 1, L, 4)
        hidden, boxes = [], []
        grad_ref = reference  # what the box of this layer refines, with its gradient
        for layer, reg_branch in zip(self.layers, reg_branches):
            ref_in = reference[:, :, None] * ratios  # (B, Q, L, 4)
            pos = query_pos if pos_from_reference is None else pos_from_reference(reference)
            query = layer(query, pos, ref_in, memory, spatial_shapes, level_start_index,
                          memory_mask, self_attn_mask)
            out = self.norm(query)
            box = (reg_branch(out).float() + inverse_sigmoid(grad_ref.float())).sigmoid()
            hidden.append(out)
            boxes.append(box)
            reference = box.detach()
            grad_ref = box if self.look_forward_twice else reference
        return torch.stack(hidden), torch.stack(boxes)

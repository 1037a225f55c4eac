"""Multi-scale deformable attention, the attention module of Deformable DETR."""
import math

import torch
from torch import Tensor, nn

from vitdense.models.utils.ms_deform_attn import (
    SpatialShapes,
    level_shapes,
    multi_scale_deformable_attn,
)
from vitdense.models.utils.tracing import is_tracing
from vitdense.registry import MODELS


@MODELS.register_module()
class MultiScaleDeformableAttention(nn.Module):
    """Multi-scale deformable attention (Zhu et al. 2021, "Deformable DETR: Deformable
    Transformers for End-to-End Object Detection", arXiv 2010.04159).

    Each query samples ``num_points`` locations per head and level around its reference point,
    at offsets predicted from the query, and sums them with weights predicted from the query
    (a softmax over the levels and points of a head). Parameter names follow HF's
    ``DeformableDetrMultiscaleDeformableAttention`` (and mmcv's module), so a state dict loads
    into either. Like HF's module it has no residual connection or dropout: the layer that holds
    it adds them. Sampling locations and weights are computed in float32, also under autocast.
    """

    def __init__(self, embed_dims: int = 256, num_heads: int = 8, num_levels: int = 4,
                 num_points: int = 4):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by num_heads={num_heads}')
        self.embed_dims, self.num_heads = embed_dims, num_heads
        self.num_levels, self.num_points = num_levels, num_points
        samples = num_heads * num_levels * num_points
        self.sampling_offsets = nn.Linear(embed_dims, samples * 2)
        self.attention_weights = nn.Linear(embed_dims, samples)
        self.value_proj = nn.Linear(embed_dims, embed_dims)
        self.output_proj = nn.Linear(embed_dims, embed_dims)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Deformable DETR's initialisation: head h's offsets start on a ring, in direction
        2 pi h / heads scaled to the unit square's border, times the point's index + 1; zero
        attention logits (uniform weights); Xavier-uniform projections with zero biases."""
        nn.init.zeros_(self.sampling_offsets.weight)
        thetas = torch.arange(self.num_heads, dtype=torch.float32) * (2.0 * math.pi
                                                                      / self.num_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)  # (heads, 2)
        grid = grid / grid.abs().max(-1, keepdim=True).values
        scale = torch.arange(1, self.num_points + 1, dtype=torch.float32)
        # (heads, 1, 1, 2) * (1, 1, P, 1) -> (heads, L, P, 2)
        grid = (grid[:, None, None] * scale[None, None, :, None]).expand(
            -1, self.num_levels, -1, -1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.reshape(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for proj in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)

    def forward(self, query: Tensor, reference_points: Tensor, value: Tensor,
                spatial_shapes: SpatialShapes, level_start_index: Tensor | None = None,
                key_padding_mask: Tensor | None = None) -> Tensor:
        """Attend from each query to its sampled locations.

        Args:
            query: (B, Q, C), position embedding already added.
            reference_points: (B, Q, L, 2) normalised ``(x, y)`` in [0, 1], or (B, Q, L, 4)
                normalised ``(cx, cy, w, h)`` boxes (offsets then scale with the box).
            value: (B, S, C), the L levels' maps flattened row-major and concatenated.
            spatial_shapes: ``(H, W)`` of each level: (L, 2) tensor or list of pairs.
            level_start_index: (L,) start of each level in S; optional, checked against
                ``spatial_shapes`` when given.
            key_padding_mask: (B, S) bool, True = padding (reads zeros).

        Returns:
            (B, Q, C).
        """
        shapes = level_shapes(spatial_shapes)
        self._check(query, reference_points, value, shapes, level_start_index)
        b, q_len, _ = query.shape
        heads, levels, points = self.num_heads, self.num_levels, self.num_points
        value = self.value_proj(value)
        if key_padding_mask is not None:
            value = value.masked_fill(key_padding_mask[..., None], 0.0)
        value = value.unflatten(-1, (heads, -1))  # (B, S, heads, d)
        # (B, Q, heads * L * P * 2) -> (B, Q, heads, L, P, 2)
        offsets = self.sampling_offsets(query).float().view(b, q_len, heads, levels, points, 2)
        logits = self.attention_weights(query).float().view(b, q_len, heads, levels * points)
        weights = logits.softmax(-1).view(b, q_len, heads, levels, points)
        ref = reference_points.float()[:, :, None, :, None]  # (B, Q, 1, L, 1, 2 or 4)
        if ref.shape[-1] == 2:
            size = torch.tensor([(w, h) for h, w in shapes], dtype=torch.float32,
                                device=ref.device)  # (L, 2) as (W, H)
            locations = ref + offsets / size[:, None]
        else:  # boxes: offsets are in units of half the box over the points
            locations = ref[..., :2] + offsets / points * ref[..., 2:] * 0.5
        out = multi_scale_deformable_attn(value, shapes, locations, weights)  # (B, Q, C)
        return self.output_proj(out)

    def _check(self, query: Tensor, reference_points: Tensor, value: Tensor,
               shapes: list[tuple[int, int]], level_start_index: Tensor | None) -> None:
        if len(shapes) != self.num_levels:
            raise ValueError(f'spatial_shapes {shapes} has {len(shapes)} levels; this module '
                             f'was built with num_levels={self.num_levels}')
        if (reference_points.dim() != 4 or reference_points.shape[-1] not in (2, 4)
                or reference_points.shape[:3] != (*query.shape[:2], self.num_levels)):
            raise ValueError(f'reference_points must be (B, Q, L, 2) or (B, Q, L, 4) = '
                             f'{(*query.shape[:2], self.num_levels)} + (2 or 4,), got '
                             f'{tuple(reference_points.shape)}')
        if level_start_index is not None and not is_tracing():  # symbolic sizes: no .tolist()
            starts = [0]
            for h, w in shapes[:-1]:
                starts.append(starts[-1] + h * w)
            if level_start_index.tolist() != starts:
                raise ValueError(f'level_start_index {level_start_index.tolist()} does not match '
                                 f'spatial_shapes {shapes} (expected {starts})')

"""Segmenter's mask transformer: class embeddings decoded jointly with the patch tokens."""
import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.layers import Block
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class SegmenterMaskHead(BaseDecodeHead):
    """Segmenter's mask transformer (Strudel et al. 2021, "Segmenter: Transformer for Semantic
    Segmentation", arXiv 2105.05633), as mmseg's ``SegmenterMaskTransformerHead``.

    The patch tokens, projected to ``embed_dim``, and K learned class embeddings go through
    ``num_layers`` pre-norm transformer blocks (global attention) and a LayerNorm; patches and
    classes are each projected (no bias) and L2-normalised, the masks are their cosine
    similarities ``patches @ classes^T``, normalised by a LayerNorm over the K classes, at the
    input stride.

    Args:
        input_shape: the backbone's ``output_shape()``.
        num_classes: K classes to predict (without the ignored label).
        in_features: the one map to decode, e.g. ``('p4',)``; with None, the stride-keyed maps,
            which must then be one.
        embed_dim: width of the decoder; None: the input's channels (Segmenter's choice).
        num_layers: transformer blocks (Segmenter: 2).
        num_heads: attention heads; None: ``embed_dim // 64``, at least 1 (the ViT's heads for
            T, S, B, L).
        mlp_ratio: MLP width / ``embed_dim``.
        drop_path: stochastic depth, increasing linearly over the blocks to this rate.
        ignore_index, loss_decode, align_corners: see :class:`BaseDecodeHead`.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: tuple[str, ...] | None = None, embed_dim: int | None = None,
                 num_layers: int = 2, num_heads: int | None = None, mlp_ratio: float = 4.0,
                 drop_path: float = 0.0, ignore_index: int = 255,
                 loss_decode: dict | list[dict] | None = None, align_corners: bool = False):
        super().__init__(input_shape, num_classes, in_features, ignore_index, loss_decode,
                         align_corners)
        name = type(self).__name__
        spec = self.single_map()
        dim = embed_dim or spec.channels
        heads = num_heads or max(dim // 64, 1)
        if dim % heads:
            raise ValueError(f'{name}: embed_dim {dim} is not divisible into num_heads={heads} '
                             'heads; set num_heads')
        self.proj_in = nn.Linear(spec.channels, dim)
        self.cls_emb = nn.Parameter(torch.zeros(1, num_classes, dim))
        rates = torch.linspace(0, drop_path, num_layers).tolist()
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, drop_path=r) for r in rates)
        self.decoder_norm = nn.LayerNorm(dim)
        self.patch_proj = nn.Linear(dim, dim, bias=False)
        self.classes_proj = nn.Linear(dim, dim, bias=False)
        self.mask_norm = nn.LayerNorm(num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Truncated normal (std 0.02) linear weights and class embeddings, zero biases."""
        nn.init.trunc_normal_(self.cls_emb, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def cosine_masks(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats[in_features[0]]: (B, C, h, w) -> cosine similarities (B, h * w, K) in [-1, 1]
        between each patch and each class embedding."""
        x = self.inputs(feats)[0]
        b, _, h, w = x.shape
        k = self.num_classes
        x = self.proj_in(x.flatten(2).transpose(1, 2))  # (B, C, h, w) -> (B, h * w, D)
        x = torch.cat([self.cls_emb.expand(b, -1, -1), x], dim=1)  # (B, K + h * w, D)
        for block in self.blocks:
            x = block(x, (h, w), k)  # the class embeddings are the prefix tokens
        x = self.decoder_norm(x)
        classes = F.normalize(self.classes_proj(x[:, :k]), dim=-1)  # (B, K, D)
        patches = F.normalize(self.patch_proj(x[:, k:]), dim=-1)  # (B, h * w, D)
        return patches @ classes.transpose(1, 2)  # (B, h * w, K)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """feats[in_features[0]]: (B, C, h, w) -> logits (B, K, h, w)."""
        b, _, h, w = self.inputs(feats)[0].shape
        masks = self.mask_norm(self.cosine_masks(feats))  # (B, h * w, K)
        return masks.transpose(1, 2).reshape(b, self.num_classes, h, w)  # (B, K, h, w)

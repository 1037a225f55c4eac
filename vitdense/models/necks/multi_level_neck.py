"""A feature pyramid from several ViT blocks, one level per block."""
from collections.abc import Sequence

import torch
from torch import nn

from vitdense.models.layers import conv_norm
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec, stride_key

from .resample import resample_stage


@MODELS.register_module()
class MultiLevelNeck(nn.Module):
    """Project each of several same-stride maps, resize it by its own factor, and convolve it.

    The multi-level features of BEiT's segmentation (Bao et al. 2021, "BEiT: BERT Pre-Training of
    Image Transformers", arXiv 2106.08254: ViT-B blocks 4, 6, 8 and 12 brought to strides 4 to 32
    by deconvolution and pooling for UPerNet), as mmseg's ``MultiLevelNeck`` (its bilinear
    resizing is ``upsample='bilinear'``). Each input goes through a 1x1 conv to
    ``out_channels`` with a norm, the resize, then a 3x3 conv with a norm. Outputs are keyed
    ``p{log2(stride)}``; a level halved from an (h, w) map is (ceil(h / 2), ceil(w / 2)).

    Args:
        input_shape: the backbone's ``output_shape()``.
        in_features: backbone maps of one stride s, one per output level, e.g. a ViT's
            ``('b3', 'b5', 'b7', 'b11')``.
        out_channels: width of every output level.
        scale_factors: the resize factor of each input, in the order of ``in_features``, among
            4, 2, 1 and 0.5; its level has stride s / factor.
        norm: norm after each conv and inside the 4x deconvolution ('LN', 'GN', 'BN' or None).
        upsample: 'deconv' (transposed convs, as ViTDet's SimpleFPN; the 2x and 4x levels are
            resized at 1/2 and 1/4 of ``out_channels``) or 'bilinear'.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], in_features: Sequence[str],
                 out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 norm: str | None = 'LN', upsample: str = 'deconv'):
        super().__init__()
        in_features = tuple(in_features)
        missing = [f for f in in_features if f not in input_shape]
        if missing or not in_features:
            raise KeyError(f'MultiLevelNeck in_features {missing or list(in_features)} are not '
                           f'among the backbone outputs {sorted(input_shape)}')
        if len(scale_factors) != len(in_features):
            raise ValueError(f'MultiLevelNeck needs one scale factor per input: in_features '
                             f'{list(in_features)}, scale_factors {list(scale_factors)}')
        strides = {f: input_shape[f].stride for f in in_features}
        stride = strides[in_features[0]]
        if len(set(strides.values())) > 1 or stride <= 0:
            raise ValueError(f'MultiLevelNeck in_features must be maps of one stride, got strides '
                             f'{strides} (stride 0 is a token, not a map)')
        self.levels = nn.ModuleDict()
        self.inputs: dict[str, str] = {}  # output level -> the backbone map it is made from
        self._shapes: dict[str, ShapeSpec] = {}
        for feature, scale in zip(in_features, scale_factors):
            resample, width = resample_stage(out_channels, float(scale), norm, upsample,
                                             owner='MultiLevelNeck')
            out_stride = int(stride / scale)
            key = stride_key(out_stride)
            if key in self.inputs:
                raise ValueError(f'MultiLevelNeck in_features {self.inputs[key]!r} and '
                                 f'{feature!r} both give level {key} (stride {out_stride}); '
                                 'give each input its own scale factor')
            self.levels[key] = nn.Sequential(
                *conv_norm(input_shape[feature].channels, out_channels, 1, norm),
                resample,  # (B, width, h * scale, w * scale)
                *conv_norm(width, out_channels, 3, norm))
            self.inputs[key] = feature
            self._shapes[key] = ShapeSpec(out_channels, out_stride)

    def output_shape(self) -> dict[str, ShapeSpec]:
        """Channels and stride of every output level, in the order of ``in_features``."""
        return dict(self._shapes)

    def forward(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """feats[in_features[i]]: (B, C_i, h, w) -> {p*: (B, out_channels, h * f_i, w * f_i)}."""
        return {key: level(feats[self.inputs[key]]) for key, level in self.levels.items()}

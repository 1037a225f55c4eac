"""ViTDet's simple feature pyramid."""
import torch
from torch import nn
from torch.nn import functional as F

from vitdense.models.layers import conv_norm
from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec, stride_key

from .resample import resample_stage


@MODELS.register_module()
class SimpleFPN(nn.Module):
    """Build a pyramid from the last ViT map by deconvolution and pooling.

    Li et al. 2022, "Exploring Plain Vision Transformer Backbones for Object Detection",
    arXiv 2203.16527. Outputs are keyed ``p{log2(stride)}``; ``top_block`` adds one more level
    by stride-2 subsampling of the coarsest (detectron2's LastLevelMaxPool). A subsampled level
    of an (h, w) map is (ceil(h / 2), ceil(w / 2)).

    Args:
        input_shape: the backbone's ``output_shape()``.
        in_feature: which backbone map to use.
        out_channels: width of every output level.
        scale_factors: resize factors relative to the input map.
        norm: norm after each conv ('LN', 'GN', 'BN' or None).
        top_block: add the extra subsampled level.
        lateral_features: backbone maps (e.g. a hybrid stem's ``p3``) added, through a 1x1 conv
            and a norm, to the output level of the same stride before its 3x3 conv: the
            stem's fine, local features join the ViT's upsampled ones (as ViT-Adapter's spatial
            prior does, without its cross-attention).
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], in_feature: str = 'p4',
                 out_channels: int = 256, scale_factors: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5),
                 norm: str | None = 'LN', top_block: bool = False,
                 lateral_features: tuple[str, ...] = ()):
        super().__init__()
        if in_feature not in input_shape:
            raise KeyError(f'SimpleFPN in_feature {in_feature!r} is not among the backbone '
                           f'outputs {sorted(input_shape)}')
        spec = input_shape[in_feature]
        if spec.stride <= 0:
            raise ValueError(f'SimpleFPN in_feature {in_feature!r} is a token (stride 0), not a '
                             'map; name a map such as the backbone\'s p4')
        self.in_feature = in_feature
        self.top_block = top_block
        self.stages = nn.ModuleDict()
        self._shapes = {}
        self.lateral = nn.ModuleDict()
        for scale in scale_factors:
            stride = int(spec.stride / scale)
            name = stride_key(stride)
            rescale, width = resample_stage(spec.channels, float(scale), owner='SimpleFPN')
            self.stages[name] = nn.ModuleList([
                nn.Sequential(rescale, *conv_norm(width, out_channels, 1, norm)),
                nn.Sequential(*conv_norm(out_channels, out_channels, 3, norm))])
            self._shapes[name] = ShapeSpec(out_channels, stride)
        self.lateral_inputs: dict[str, str] = {}  # output level -> backbone map added to it
        for feature in lateral_features:
            lateral = input_shape.get(feature)
            level = stride_key(lateral.stride) if lateral is not None and lateral.stride else None
            if level not in self.stages:
                raise KeyError(f'SimpleFPN lateral feature {feature!r} must be a backbone output '
                               f'({sorted(input_shape)}) with the stride of an output level '
                               f'({sorted(self.stages)})')
            self.lateral_inputs[level] = feature
            self.lateral[level] = nn.Sequential(*conv_norm(lateral.channels, out_channels, 1, norm))
        if top_block:
            last = max(self._shapes.values(), key=lambda s: s.stride)
            self._coarsest_name = stride_key(last.stride)
            self._top_name = stride_key(last.stride * 2)
            self._shapes[self._top_name] = ShapeSpec(out_channels, last.stride * 2)

    def output_shape(self) -> dict[str, ShapeSpec]:
        return dict(self._shapes)

    def forward(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """feats[in_feature]: (B, C, h, w) -> {p*: (B, out_channels, h * s, w * s)}."""
        x = feats[self.in_feature]
        outs = {}
        for name, (reduce, conv) in self.stages.items():
            y = reduce(x)  # (B, out_channels, h * s, w * s)
            if name in self.lateral:
                lateral = self.lateral[name](feats[self.lateral_inputs[name]])
                y = y + lateral[..., :y.shape[-2], :y.shape[-1]]
            outs[name] = conv(y)
        if self.top_block:
            # ViTDet's LastLevelMaxPool, on the coarsest level named at build time: choosing it
            # by size (`min(..., key=)`) broke the compiled graph, and inductor then failed on
            # the graph's outputs at a second, dynamic, input size.
            coarsest = outs[self._coarsest_name]
            outs[self._top_name] = F.max_pool2d(coarsest, kernel_size=1, stride=2)
        return outs

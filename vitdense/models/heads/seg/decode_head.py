"""What every semantic-segmentation decoder shares: its inputs, its classifier and its loss."""
from abc import abstractmethod
from typing import Optional, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from vitdense.registry import MODELS
from vitdense.structures import SegDataSample, ShapeSpec


def default_in_features(input_shape: dict[str, ShapeSpec]) -> tuple[str, ...]:
    """The stride-keyed maps ``p{log2(stride)}`` of an ``output_shape()``, finest first: what a
    decoder reads when its config names none (block outputs ``b{i}`` and tokens are left out)."""
    names = [n for n, s in input_shape.items() if n.startswith('p') and s.stride > 0]
    return tuple(sorted(names, key=lambda n: input_shape[n].stride))


class BaseDecodeHead(nn.Module):
    """Base of the decoders: checks the inputs, owns the classifier's loss.

    A decoder subclasses this, builds its layers after ``super().__init__()`` and implements
    :meth:`forward` ``(feats) -> (B, K, h, w)`` logits at the stride ``out_stride`` (input
    pixels per logit: the finest stride among its input maps, unless the decoder upsamples and
    sets another); the segmentor resizes them. :meth:`loss` resizes the logits to the (padded)
    label map, bilinearly, and applies ``loss_decode`` (mmseg's key: one loss config, or a list
    whose losses are summed), built with the head's ``ignore_index``; the loss names are the
    losses' ``loss_name`` or ``loss_ce``.

    Args:
        input_shape: the neck's (or backbone's) ``output_shape()``.
        num_classes: K classes to predict (the ignored label is not one).
        in_features: keys of ``input_shape`` the decoder reads, in its order; None reads the
            stride-keyed maps (:func:`default_in_features`).
        ignore_index: label the loss ignores (255, as mmseg).
        loss_decode: loss config(s); None is ``CrossEntropyLoss`` averaged over non-ignored
            pixels (``avg_non_ignore=True``). ``class_weight`` and ``loss_weight`` go there.
        align_corners: of the bilinear resize to the label map.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], num_classes: int,
                 in_features: Optional[Sequence[str]] = None, ignore_index: int = 255,
                 loss_decode: Optional[dict | list[dict]] = None,
                 align_corners: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        if num_classes < 1:
            raise ValueError(f'{name}: num_classes must be >= 1, got {num_classes}')
        names = tuple(in_features) if in_features else default_in_features(input_shape)
        missing = [n for n in names if n not in input_shape]
        if missing or not names:
            raise KeyError(f'{name}: in_features {missing or list(names)} are not among the '
                           f'inputs {sorted(input_shape)}; set in_features to keys the '
                           'backbone or neck provides')
        self.in_features = names
        self.input_shape = {n: input_shape[n] for n in names}
        strides = [s.stride for s in self.input_shape.values() if s.stride > 0]
        self.out_stride: int = min(strides) if strides else 0
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        configs = loss_decode or dict(type='CrossEntropyLoss', avg_non_ignore=True)
        configs = configs if isinstance(configs, (list, tuple)) else [configs]
        self.losses = nn.ModuleList(
            MODELS.build(cfg, default_args=dict(ignore_index=ignore_index)) for cfg in configs)

    def single_map(self) -> ShapeSpec:
        """The shape of the one map a single-input decoder reads; raises unless ``in_features``
        is one map (not a token)."""
        spec = next(iter(self.input_shape.values()))
        if len(self.in_features) != 1 or spec.stride <= 0:
            raise ValueError(f'{type(self).__name__} decodes one map; got in_features '
                             f"{self.in_features}: set in_features to one map's key, e.g. "
                             "('p4',)")
        return spec

    def inputs(self, feats: dict[str, Tensor]) -> list[Tensor]:
        """The maps of ``in_features``, in order; a missing one raises, naming it."""
        missing = [n for n in self.in_features if n not in feats]
        if missing:
            raise KeyError(f'{type(self).__name__}: inputs {missing} missing from the features '
                           f'{sorted(feats)}')
        return [feats[n] for n in self.in_features]

    @abstractmethod
    def forward(self, feats: dict[str, Tensor]) -> Tensor:
        """feats -> logits (B, num_classes, h, w)."""

    def loss(self, feats: dict[str, Tensor],
             data_samples: Sequence[SegDataSample]) -> dict[str, Tensor]:
        """Forward, then :meth:`loss_by_logits`."""
        return self.loss_by_logits(self(feats), data_samples)

    def loss_by_logits(self, logits: Tensor,
                       data_samples: Sequence[SegDataSample]) -> dict[str, Tensor]:
        """Pixel losses of (B, K, h, w) logits against the samples' ``gt_sem_seg`` (padded to
        the batch input size), computed in float32 at the label resolution."""
        target = torch.stack([s.gt_sem_seg.data for s in data_samples]).squeeze(1).long()
        logits = F.interpolate(logits.float(), size=target.shape[-2:], mode='bilinear',
                               align_corners=self.align_corners)  # (B, K, H, W)
        out: dict[str, Tensor] = {}
        for loss in self.losses:
            key = getattr(loss, 'loss_name', 'loss_ce')
            out[key] = out[key] + loss(logits, target) if key in out else loss(logits, target)
        return out

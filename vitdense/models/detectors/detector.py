"""A one-model-per-task detector: backbone -> neck -> detection head."""
import inspect

import torch

from vitdense.registry import MODELS
from vitdense.structures import DetDataSample

from .base import BackboneNeckModel


@MODELS.register_module()
class Detector(BackboneNeckModel):
    """Backbone, optional neck and a detection head, following mmdet's forward contract.

    Each child is built once here, with its input widths and strides taken from the previous
    stage's ``output_shape()``.

    Args:
        backbone: config of a backbone with ``output_shape()``.
        neck: config of a neck taking ``input_shape``, or None.
        bbox_head: config of a head with ``loss(feats, data_samples)``,
            ``predict(feats, data_samples, rescale)`` and ``forward(feats, data_samples=None)``
            (docs/plugins.md). A head whose ``forward`` takes only ``feats`` (the contract before
            DETR-style heads) still works: tensor mode then calls it without the samples.
        data_preprocessor: config of the preprocessor (``DenseDataPreprocessor``).
        init_cfg: mmengine init config.
    """

    def __init__(self, backbone: dict, bbox_head: dict, neck: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        super().__init__(backbone, neck, data_preprocessor, init_cfg)
        self.bbox_head = MODELS.build(bbox_head,
                                      default_args=dict(input_shape=self.head_input_shape))
        params = inspect.signature(self.bbox_head.forward).parameters
        self._head_takes_samples = 'data_samples' in params or any(
            p.kind is inspect.Parameter.VAR_POSITIONAL for p in params.values())

    def forward(self, inputs: torch.Tensor, data_samples: list[DetDataSample] | None = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.bbox_head.loss(self.extract_feat(inputs), data_samples)
        if mode == 'predict':
            results = self.bbox_head.predict(self.extract_feat(inputs), data_samples, rescale=True)
            for sample, pred in zip(data_samples, results):
                sample.pred_instances = pred
            return data_samples
        if mode == 'tensor':
            feats = self.extract_feat(inputs)
            if self._head_takes_samples:
                return self.bbox_head(feats, data_samples)
            return self.bbox_head(feats)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

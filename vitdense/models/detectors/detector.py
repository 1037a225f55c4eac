"""A one-model-per-task detector: backbone -> neck -> detection head."""
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
        bbox_head: config of a head with ``loss`` and ``predict``.
        data_preprocessor: config of the preprocessor (``DenseDataPreprocessor``).
        init_cfg: mmengine init config.
    """

    def __init__(self, backbone: dict, bbox_head: dict, neck: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        super().__init__(backbone, neck, data_preprocessor, init_cfg)
        self.bbox_head = MODELS.build(bbox_head,
                                      default_args=dict(input_shape=self.head_input_shape))

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
            return self.bbox_head(self.extract_feat(inputs))
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

"""A one-model-per-task detector: backbone -> neck -> detection head."""
import torch
from mmengine.model import BaseModel

from vitdense.registry import MODELS
from vitdense.structures import DetDataSample


@MODELS.register_module()
class Detector(BaseModel):
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
        super().__init__(data_preprocessor=data_preprocessor or dict(type='DenseDataPreprocessor'),
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        shape = self.backbone.output_shape()
        self.neck = None
        if neck is not None:
            self.neck = MODELS.build(neck, default_args=dict(input_shape=shape))
            shape = self.neck.output_shape()
        self.bbox_head = MODELS.build(bbox_head, default_args=dict(input_shape=shape))

    def extract_feat(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """inputs: (B, 3, H, W) -> the maps the head reads."""
        feats = self.backbone(inputs)
        return self.neck(feats) if self.neck is not None else feats

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

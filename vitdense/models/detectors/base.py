"""What every vitdense model shares: a backbone and an optional neck, built from configs."""
import torch
from mmengine.model import BaseModel

from vitdense.registry import MODELS
from vitdense.structures import ShapeSpec


class BackboneNeckModel(BaseModel):
    """Builds ``backbone`` and ``neck`` once; subclasses add their head with ``head_input_shape``.

    Args:
        backbone: config of a backbone with ``output_shape()``.
        neck: config of a neck taking ``input_shape``, or None.
        data_preprocessor: config of the preprocessor (``DenseDataPreprocessor``).
        init_cfg: mmengine init config.
    """

    def __init__(self, backbone: dict, neck: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        super().__init__(data_preprocessor=data_preprocessor or dict(type='DenseDataPreprocessor'),
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        shape = self.backbone.output_shape()
        self.neck = None
        if neck is not None:
            self.neck = MODELS.build(neck, default_args=dict(input_shape=shape))
            shape = self.neck.output_shape()
        self.head_input_shape: dict[str, ShapeSpec] = shape

    def extract_feat(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """inputs: (B, 3, H, W) -> the maps the head reads."""
        feats = self.backbone(inputs)
        return self.neck(feats) if self.neck is not None else feats

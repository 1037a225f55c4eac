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
        semantic_head: config of a segmentation decode head (a ``BaseDecodeHead``, e.g.
            ``FCNHead`` on one level of the neck), or None. It learns the samples'
            ``gt_sem_seg`` on the same features as the detection head, in training only: its
            losses join the detector's as ``semantic.<name>`` (weighted by its own
            ``loss_decode``), and prediction and tensor mode do not run it. A dense, per-pixel
            signal for the shared backbone and neck, as HTC's semantic branch (Chen et al. 2019,
            "Hybrid Task Cascade for Instance Segmentation", arXiv 1901.07518); the pipeline
            must load label maps (``LoadAnnotations(with_seg=True)``, a dataset with
            ``data_prefix['seg']``).
    """

    def __init__(self, backbone: dict, bbox_head: dict, neck: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None,
                 semantic_head: dict | None = None):
        super().__init__(backbone, neck, data_preprocessor, init_cfg)
        head_args = dict(input_shape=self.head_input_shape)
        self.bbox_head = MODELS.build(bbox_head, default_args=head_args)
        self.semantic_head = None if semantic_head is None else \
            MODELS.build(semantic_head, default_args=head_args)
        params = inspect.signature(self.bbox_head.forward).parameters
        self._head_takes_samples = 'data_samples' in params or any(
            p.kind is inspect.Parameter.VAR_POSITIONAL for p in params.values())

    def loss(self, inputs: torch.Tensor,
             data_samples: list[DetDataSample]) -> dict[str, torch.Tensor]:
        """The detection head's losses and the semantic head's (``semantic.<name>``)."""
        feats = self.extract_feat(inputs)
        losses = self.bbox_head.loss(feats, data_samples)
        if self.semantic_head is not None:
            missing = [s.get('img_path') for s in data_samples if 'gt_sem_seg' not in s]
            if missing:
                raise ValueError(
                    f'Detector.semantic_head learns label maps, but {missing[:3]} have none: '
                    "load them with LoadAnnotations(with_seg=True) and data_prefix['seg'] in "
                    'the dataset, or set model.semantic_head=None.')
            losses.update({f'semantic.{k}': v
                           for k, v in self.semantic_head.loss(feats, data_samples).items()})
        return losses

    def forward(self, inputs: torch.Tensor, data_samples: list[DetDataSample] | None = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
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

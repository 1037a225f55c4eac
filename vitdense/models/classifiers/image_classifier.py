"""Image classifier: a backbone, an optional neck and a classification head."""
import torch

from vitdense.models.detectors.base import BackboneNeckModel
from vitdense.registry import MODELS
from vitdense.structures import ClsDataSample


@MODELS.register_module()
class ImageClassifier(BackboneNeckModel):
    """Backbone, optional neck and a head such as :class:`LinearClsHead` (mmpretrain's contract).

    Used to pretrain a dense model's backbone (e.g. on object crops) before fine-tuning it: its
    ``backbone.*`` weights load into a Detector or Segmentor with the same backbone config.

    Args:
        backbone, neck, data_preprocessor, init_cfg: as in :class:`Detector`.
        head: config of the classification head; it gets ``input_shape``.
    """

    def __init__(self, backbone: dict, head: dict, neck: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        super().__init__(backbone, neck, data_preprocessor, init_cfg)
        self.head = MODELS.build(head, default_args=dict(input_shape=self.head_input_shape))
        self.num_classes = self.head.num_classes

    def forward(self, inputs: torch.Tensor, data_samples: list[ClsDataSample] | None = None,
                mode: str = 'tensor'):
        """inputs: (B, 3, H, W).

        Returns:
            'loss': ``dict(loss_cls=...)``; 'predict': the samples (new ones when None) with
            ``pred_score`` and ``pred_label``; 'tensor': logits (B, K).
        """
        if mode == 'loss':
            if data_samples is None:
                raise ValueError("ImageClassifier mode='loss' needs data_samples with gt_label.")
            return self.head.loss(self.extract_feat(inputs), data_samples)
        if mode == 'predict':
            if data_samples is None:
                data_samples = [ClsDataSample() for _ in range(inputs.shape[0])]
            return self.head.predict(self.extract_feat(inputs), data_samples)
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

"""Encoder-decoder semantic segmentor with whole-image and sliding-window inference."""
import math

import torch
from mmengine.structures import PixelData
from torch.nn import functional as F

from vitdense.registry import MODELS
from vitdense.structures import SegDataSample

from .base import BackboneNeckModel


@MODELS.register_module()
class Segmentor(BackboneNeckModel):
    """Backbone, optional neck and a decode head, following mmseg's forward contract.

    Args:
        backbone, neck, decode_head, data_preprocessor, init_cfg: as in :class:`Detector`.
        test_mode: 'whole' (one pass over the padded batch) or 'slide'.
        crop_size: (h, w) of the windows in 'slide' mode.
        stride: (h, w) step between windows in 'slide' mode.
    """

    def __init__(self, backbone: dict, decode_head: dict, neck: dict | None = None,
                 data_preprocessor: dict | None = None, test_mode: str = 'whole',
                 crop_size: tuple[int, int] | None = None, stride: tuple[int, int] | None = None,
                 init_cfg: dict | None = None):
        super().__init__(backbone, neck, data_preprocessor, init_cfg)
        if test_mode not in ('whole', 'slide'):
            raise ValueError(f"test_mode must be 'whole' or 'slide', got {test_mode!r}")
        if test_mode == 'slide' and (crop_size is None or stride is None):
            raise ValueError("test_mode='slide' needs crop_size and stride")
        self.test_mode, self.crop_size, self.stride = test_mode, crop_size, stride
        self.decode_head = MODELS.build(decode_head,
                                        default_args=dict(input_shape=self.head_input_shape))
        self.num_classes = self.decode_head.num_classes

    def encode_decode(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs: (B, 3, H, W) -> logits (B, K, H, W)."""
        logits = self.decode_head(self.extract_feat(inputs))
        return F.interpolate(logits.float(), size=inputs.shape[-2:], mode='bilinear',
                             align_corners=False)

    def slide_inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """Average the logits of overlapping ``crop_size`` windows: (B, K, H, W)."""
        (ch, cw), (sh, sw) = self.crop_size, self.stride
        b, _, h, w = inputs.shape
        rows = max(math.ceil((h - ch) / sh), 0) + 1
        cols = max(math.ceil((w - cw) / sw), 0) + 1
        logits = inputs.new_zeros(b, self.num_classes, h, w, dtype=torch.float32)
        count = inputs.new_zeros(1, 1, h, w, dtype=torch.float32)
        for r in range(rows):
            for c in range(cols):
                y1, x1 = min(r * sh, max(h - ch, 0)), min(c * sw, max(w - cw, 0))
                y2, x2 = min(y1 + ch, h), min(x1 + cw, w)
                logits[:, :, y1:y2, x1:x2] += self.encode_decode(inputs[:, :, y1:y2, x1:x2])
                count[:, :, y1:y2, x1:x2] += 1
        return logits / count

    def forward(self, inputs: torch.Tensor, data_samples: list[SegDataSample] | None = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.decode_head.loss(self.extract_feat(inputs), data_samples)
        if mode == 'predict':
            infer = self.slide_inference if self.test_mode == 'slide' else self.encode_decode
            return self.postprocess(infer(inputs), data_samples)
        if mode == 'tensor':
            return self.decode_head(self.extract_feat(inputs))
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    @staticmethod
    def postprocess(logits: torch.Tensor,
                    data_samples: list[SegDataSample]) -> list[SegDataSample]:
        """Crop each image's padding, resize to its original size, and take the argmax."""
        for i, sample in enumerate(data_samples):
            h, w = sample.img_shape[:2]
            one = logits[i:i + 1, :, :h, :w]  # (1, K, h, w)
            oh, ow = sample.ori_shape[:2]
            if (oh, ow) != (h, w):
                one = F.interpolate(one, size=(oh, ow), mode='bilinear', align_corners=False)
            sample.seg_logits = PixelData(data=one[0])
            sample.pred_sem_seg = PixelData(data=one[0].argmax(0, keepdim=True))
        return data_samples

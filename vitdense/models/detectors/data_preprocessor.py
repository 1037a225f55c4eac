"""Normalise, pad and batch images (and pad segmentation labels to the same size)."""
from typing import Sequence

import torch
from mmengine.model import ImgDataPreprocessor
from mmengine.structures import PixelData
from torch.nn import functional as F

from vitdense.registry import MODELS


@MODELS.register_module()
class DenseDataPreprocessor(ImgDataPreprocessor):
    """mmengine's image preprocessor plus what dense prediction needs.

    After normalising, converting BGR to RGB and padding the batch (bottom/right) to a multiple of
    ``pad_size_divisor``, it records ``batch_input_shape`` and ``pad_shape`` in every data sample
    and, in training, pads ``gt_sem_seg`` (when present) with ``seg_pad_value``; at test time the
    labels stay at the original image size, where predictions are compared with them.

    Args:
        mean, std: per-channel normalisation, in RGB order when ``bgr_to_rgb``.
        bgr_to_rgb: convert the loaded BGR images to RGB.
        pad_size_divisor: pad H and W to a multiple of this (the model's largest stride, or
            patch x window for windowed ViTs).
        pad_value: image padding value (after normalisation: 0 is the mean).
        seg_pad_value: label of padded pixels in ``gt_sem_seg`` (ignored by the loss).
        channels_last: give the model its batch in channels-last memory format. torch's CPU
            convolutions then run in oneDNN's NHWC layout and keep it, and the ViT gives its maps
            the same layout (no copy from its tokens): the 6-block demo detector's step 1.04x
            and its segmentor's 1.06x faster on an AMX Xeon (docs/benchmarks.md, issue 8's
            twelfth round). Values are unchanged; code that calls ``.view`` on a map must use
            ``.reshape``.
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), bgr_to_rgb: bool = True,
                 pad_size_divisor: int = 32, pad_value: float = 0, seg_pad_value: int = 255,
                 channels_last: bool = False):
        super().__init__(mean=mean, std=std, pad_size_divisor=pad_size_divisor,
                         pad_value=pad_value, bgr_to_rgb=bgr_to_rgb)
        self.seg_pad_value = seg_pad_value
        self.channels_last = channels_last

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        if self.channels_last:
            data['inputs'] = data['inputs'].contiguous(memory_format=torch.channels_last)
        inputs, samples = data['inputs'], data.get('data_samples')
        if samples is None:
            return data
        batch_shape = tuple(inputs.shape[-2:])
        for sample in samples:
            sample.set_metainfo(dict(batch_input_shape=batch_shape, pad_shape=batch_shape))
            if training and 'gt_sem_seg' in sample:
                seg = sample.gt_sem_seg.data  # (1, h, w)
                pad_h, pad_w = batch_shape[0] - seg.shape[-2], batch_shape[1] - seg.shape[-1]
                padded = F.pad(seg, (0, pad_w, 0, pad_h), value=self.seg_pad_value)
                sample.gt_sem_seg = PixelData(data=padded.to(inputs.device))
        return data

"""Encoder-decoder semantic segmentor with whole-image and sliding-window inference."""
import torch
from mmengine.structures import PixelData
from torch import nn

from vitdense.models.utils.sliding_window import resize_logits, slide_logits
from vitdense.registry import MODELS
from vitdense.structures import SegDataSample

from .base import BackboneNeckModel

FLIP_DIMS = {'horizontal': (-1, ), 'vertical': (-2, )}


@MODELS.register_module()
class Segmentor(BackboneNeckModel):
    """Backbone, optional neck, a decode head and optional auxiliary heads (mmseg's
    ``EncoderDecoder``), with mmengine's ``loss | predict | tensor`` forward contract.

    Auxiliary heads read the same features as the decode head and only add losses in training:
    ``aux.<name>`` for one head, ``aux_0.<name>``, ``aux_1.<name>``... for a list. Each weighs
    its loss through its own ``loss_decode`` (e.g. ``dict(type='CrossEntropyLoss',
    loss_weight=0.4)``). Prediction and ``tensor`` mode use the decode head alone.

    Args:
        backbone, neck, data_preprocessor, init_cfg: as in :class:`Detector`.
        decode_head: config of a :class:`BaseDecodeHead`; built with ``input_shape``.
        auxiliary_head: config, list of configs, or None; built like ``decode_head``.
        test_mode: 'whole' (one pass over the padded batch) or 'slide'.
        crop_size: (h, w) of the windows in 'slide' mode.
        stride: (h, w) step between windows in 'slide' mode.
        slide_batch_size: windows per forward pass in 'slide' mode (each with the B images of
            the batch); 1 runs them one at a time.
    """

    def __init__(self, backbone: dict, decode_head: dict, neck: dict | None = None,
                 auxiliary_head: dict | list[dict] | None = None,
                 data_preprocessor: dict | None = None, test_mode: str = 'whole',
                 crop_size: tuple[int, int] | None = None, stride: tuple[int, int] | None = None,
                 slide_batch_size: int = 8, init_cfg: dict | None = None):
        super().__init__(backbone, neck, data_preprocessor, init_cfg)
        if test_mode not in ('whole', 'slide'):
            raise ValueError(f"test_mode must be 'whole' or 'slide', got {test_mode!r}")
        if test_mode == 'slide' and (crop_size is None or stride is None):
            raise ValueError("test_mode='slide' needs crop_size and stride")
        if slide_batch_size < 1:
            raise ValueError(f'slide_batch_size must be >= 1, got {slide_batch_size}')
        self.test_mode, self.crop_size, self.stride = test_mode, crop_size, stride
        self.slide_batch_size = slide_batch_size
        head_args = dict(input_shape=self.head_input_shape)
        self.decode_head = MODELS.build(decode_head, default_args=head_args)
        self.num_classes = self.decode_head.num_classes
        # A head outside the BaseDecodeHead family (a user's plugin) may not declare it: the
        # bilinear resizes then use the default, as the loss of BaseDecodeHead does.
        self.align_corners: bool = getattr(self.decode_head, 'align_corners', False)
        aux = [] if auxiliary_head is None else auxiliary_head
        many = isinstance(aux, (list, tuple))
        aux = list(aux) if many else [aux]
        self.auxiliary_head = nn.ModuleList(MODELS.build(cfg, default_args=head_args)
                                            for cfg in aux)
        self.aux_prefixes: tuple[str, ...] = tuple(
            f'aux_{i}' if many else 'aux' for i in range(len(aux)))

    def encode_decode(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs: (B, 3, H, W) -> logits (B, K, H, W) in float32."""
        logits = self.decode_head(self.extract_feat(inputs))  # (B, K, h, w)
        return resize_logits(logits, inputs.shape[-2:], self.align_corners)

    def slide_inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits (B, K, H, W) averaged over overlapping ``crop_size`` windows, computed
        ``slide_batch_size`` windows at a time (:func:`slide_logits`)."""
        return slide_logits(lambda crops: self.decode_head(self.extract_feat(crops)), inputs,
                            self.num_classes, self.crop_size, self.stride,
                            self.slide_batch_size, self.align_corners)

    def loss(self, inputs: torch.Tensor,
             data_samples: list[SegDataSample]) -> dict[str, torch.Tensor]:
        """The decode head's losses and the auxiliary heads' (prefixed), on shared features."""
        feats = self.extract_feat(inputs)
        losses = self.decode_head.loss(feats, data_samples)
        for prefix, head in zip(self.aux_prefixes, self.auxiliary_head):
            losses.update({f'{prefix}.{k}': v for k, v in head.loss(feats, data_samples).items()})
        return losses

    def forward(self, inputs: torch.Tensor, data_samples: list[SegDataSample] | None = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            infer = self.slide_inference if self.test_mode == 'slide' else self.encode_decode
            return self.postprocess(infer(inputs), data_samples)
        if mode == 'tensor':
            return self.decode_head(self.extract_feat(inputs))
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def postprocess(self, logits: torch.Tensor,
                    data_samples: list[SegDataSample]) -> list[SegDataSample]:
        """Per image: crop the batch padding (to ``img_shape``), undo a test-time flip
        (``flip``, ``flip_direction``), resize bilinearly to ``ori_shape``, take the argmax.

        Args:
            logits: (B, K, H, W) at the padded batch size.

        Returns:
            the samples with ``seg_logits`` (K, h0, w0) and ``pred_sem_seg`` (1, h0, w0) at the
            original image size (h0, w0).
        """
        for i, sample in enumerate(data_samples):
            h, w = sample.img_shape[:2]
            one = logits[i:i + 1, :, :h, :w]  # (1, K, h, w)
            if sample.get('flip', False):
                direction = sample.get('flip_direction')
                if direction not in FLIP_DIMS:
                    raise ValueError(f"Segmentor cannot undo the flip direction {direction!r} of "
                                     f"'{sample.get('img_path')}'; use one of {sorted(FLIP_DIMS)}.")
                one = one.flip(FLIP_DIMS[direction])
            one = resize_logits(one, tuple(sample.ori_shape[:2]), self.align_corners)[0]
            sample.seg_logits = PixelData(data=one)  # (K, h0, w0)
            sample.pred_sem_seg = PixelData(data=one.argmax(0, keepdim=True))
        return data_samples

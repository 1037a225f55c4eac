"""What an exported ONNX graph computes: a model in tensor mode, with its image normalisation
folded in and its outputs decoded into boxes and scores (detectors) or logits (segmentors).

The graph takes ``image``: (B, 3, H, W) float32 RGB pixels in [0, 255], i.e. what the data
preprocessor has after its ``bgr_to_rgb``, before normalisation and padding. Its outputs are
listed in :data:`OUTPUTS` and documented in docs/deploy.md.
"""
import torch
from torch import Tensor, nn

from vitdense.models.detectors import Detector, Segmentor
from vitdense.models.heads.det.detr import DeformableDETRHead, DETRHead
from vitdense.models.heads.det.fcos_head import FCOSHead
from vitdense.models.utils import box_cxcywh_to_xyxy, level_points

# Names of the graph outputs of each kind of model, in order.
OUTPUTS = {
    'fcos': ('boxes', 'scores', 'centerness'),
    'detr': ('boxes', 'scores'),
    'seg': ('seg_logits', 'seg_map'),
}


def model_kind(model: nn.Module) -> str:
    """'fcos', 'detr' or 'seg': which graph :class:`ExportWrapper` builds for ``model``."""
    if isinstance(model, Segmentor):
        return 'seg'
    if isinstance(model, Detector):
        head = model.bbox_head
        if isinstance(head, FCOSHead):
            return 'fcos'
        if isinstance(head, (DETRHead, DeformableDETRHead)):
            return 'detr'
        raise TypeError(f'ONNX export supports FCOSHead and the DETR family (DETRHead, '
                        f'DeformableDETRHead, DINOHead); this detector has '
                        f'{type(head).__name__}. Export its tensor mode yourself with '
                        'torch.onnx.export(..., dynamo=True) (docs/deploy.md).')
    raise TypeError(f'ONNX export supports Detector and Segmentor models, got '
                    f'{type(model).__name__}')


def clip_xyxy(boxes: Tensor, height: Tensor, width: Tensor) -> Tensor:
    """(..., 4) xyxy boxes clipped to [0, width] x [0, height] (0-dim tensors, so that sizes
    stay symbolic in a traced graph)."""
    upper = torch.stack([width, height, width, height]).to(boxes.dtype)  # (4,)
    return torch.minimum(boxes.clamp(min=0), upper)


class ExportWrapper(nn.Module):
    """A Detector or Segmentor as one ``image -> outputs`` function for ``torch.onnx.export``.

    Args:
        model: a built vitdense model, in eval mode.

    Attributes:
        kind: 'fcos', 'detr' or 'seg' (:func:`model_kind`).
        output_names: the names of :meth:`forward`'s outputs (:data:`OUTPUTS`).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.kind = model_kind(model)
        self.output_names = OUTPUTS[self.kind]
        self.model = model
        preprocessor = model.data_preprocessor
        # (1, 3, 1, 1) RGB mean and std of the data preprocessor (after its bgr_to_rgb)
        self.register_buffer('mean', preprocessor.mean.detach().clone().view(1, 3, 1, 1))
        self.register_buffer('std', preprocessor.std.detach().clone().view(1, 3, 1, 1))

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        """image: (B, 3, H, W) RGB pixels in [0, 255] -> the outputs named by ``output_names``."""
        inputs = (image - self.mean) / self.std
        out = self.model(inputs, mode='tensor')
        height = torch.tensor(image.shape[2], dtype=torch.float32)
        width = torch.tensor(image.shape[3], dtype=torch.float32)
        if self.kind == 'seg':
            return self.segmentation(out, image.shape[2:])
        if self.kind == 'detr':
            return self.detr(out, height, width)
        return self.fcos(*out, height, width)

    def segmentation(self, logits: Tensor, size) -> tuple[Tensor, Tensor]:
        """Decode-head logits (B, K, h, w) -> ``seg_logits`` (B, K, H, W) float32 resized
        bilinearly to the input (as ``Segmentor.encode_decode``) and ``seg_map`` (B, H, W)
        int64 class indices."""
        logits = nn.functional.interpolate(logits.float(), size=size, mode='bilinear',
                                           align_corners=self.model.align_corners)
        return logits, logits.argmax(1)

    def detr(self, out: dict, height: Tensor, width: Tensor) -> tuple[Tensor, Tensor]:
        """The last decoder layer -> ``boxes`` (B, Q, 4) xyxy input pixels (clipped) and
        ``scores`` (B, Q, K) class probabilities: sigmoid (Deformable DETR, DINO) or the softmax
        without its no-object column (DETR)."""
        logits = out['pred_logits'].float()
        if isinstance(self.model.bbox_head, DeformableDETRHead):
            scores = logits.sigmoid()
        else:
            scores = logits.softmax(-1)[..., :-1]
        scale = torch.stack([width, height, width, height])  # (4,)
        boxes = box_cxcywh_to_xyxy(out['pred_boxes'].float()) * scale  # (B, Q, 4)
        return clip_xyxy(boxes, height, width), scores

    def fcos(self, cls_scores: list[Tensor], bbox_preds: list[Tensor],
             centernesses: list[Tensor], height: Tensor,
             width: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Every level's points, before score threshold, top-k and NMS -> ``boxes`` (B, N, 4)
        xyxy input pixels (clipped), ``scores`` (B, N, K) sigmoid class probabilities and
        ``centerness`` (B, N) sigmoid; N = sum of H_l * W_l, levels fine to coarse, each
        row-major (``FCOSHead.predict_by_feat`` ranks by score, then by score x centerness)."""
        head = self.model.bbox_head
        sizes = [tuple(s.shape[-2:]) for s in cls_scores]
        points = level_points(sizes, head.strides, offset=0.5, device=cls_scores[0].device)
        boxes, scores, ctrs = [], [], []
        for cls, dist, ctr, pts, stride in zip(cls_scores, bbox_preds, centernesses, points,
                                               head.strides):
            batch = cls.shape[0]
            # (B, C, H, W) -> (B, H * W, C)
            scores.append(cls.float().flatten(2).transpose(1, 2).sigmoid())
            dist = dist.float().flatten(2).transpose(1, 2)  # (B, H * W, 4) ltrb
            dist = dist * stride if head.norm_on_bbox else dist
            boxes.append(torch.cat((pts - dist[..., :2], pts + dist[..., 2:]), dim=-1))
            ctrs.append(ctr.float().reshape(batch, -1).sigmoid())  # (B, 1, H, W) -> (B, H * W)
        boxes = clip_xyxy(torch.cat(boxes, dim=1), height, width)
        return boxes, torch.cat(scores, dim=1), torch.cat(ctrs, dim=1)

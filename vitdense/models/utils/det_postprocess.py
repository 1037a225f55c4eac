"""The end of a dense (NMS-based) detection head's ``predict``: clip, rescale, filter, NMS."""
from mmengine.structures import InstanceData
from torch import Tensor

from .box_rescale import clip_boxes_, rescale_boxes
from .nms import batched_nms


def nms_postprocess(boxes: Tensor, scores: Tensor, labels: Tensor, meta: dict, rescale: bool,
                    nms_iou_thr: float, max_per_img: int, min_bbox_size: float = 0.0,
                    owner: str = 'predict') -> InstanceData:
    """Detections of one image from its candidates.

    Boxes are clipped to ``img_shape`` (when the metainfo has it), mapped to the original image
    when ``rescale`` (:func:`rescale_boxes`), boxes not wider and taller than ``min_bbox_size``
    dropped, then class-aware NMS keeps at most ``max_per_img`` by decreasing score.

    Args:
        boxes: (N, 4) xyxy in input pixels.
        scores: (N,) scores.
        labels: (N,) class indices.
        meta: the data sample's metainfo.
        rescale: map boxes back to ``ori_shape``.
        nms_iou_thr: IoU threshold of the class-aware NMS.
        max_per_img: detections kept.
        min_bbox_size: smallest kept width and height, in the output frame.
        owner: who asks, named in errors.

    Returns:
        InstanceData with ``bboxes`` (M, 4), ``scores`` (M,), ``labels`` (M,), M <= max_per_img.
    """
    if 'img_shape' in meta:
        clip_boxes_(boxes, meta['img_shape'])
    if rescale:
        boxes = rescale_boxes(boxes, meta, owner)
    wh = boxes[:, 2:] - boxes[:, :2]  # (N, 2)
    valid = (wh > min_bbox_size).all(dim=1)
    boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
    keep = batched_nms(boxes, scores, labels, nms_iou_thr)[:max_per_img]
    return InstanceData(bboxes=boxes[keep], scores=scores[keep], labels=labels[keep])

"""Test-time augmentation of a detector: merge the detections of augmented views."""
import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import InstanceData

from vitdense.models.utils import batched_nms
from vitdense.registry import MODELS
from vitdense.structures import DetDataSample
from vitdense.transforms.geometric import flip_boxes

# Metainfo that describes one view, not the image: dropped from the merged sample.
VIEW_META_KEYS = ('img_shape', 'scale_factor', 'flip', 'flip_direction', 'pad_shape',
                  'batch_input_shape')


@MODELS.register_module()
class DetTTAModel(BaseTTAModel):
    """Merges the detections of a detector's augmented views (mmdet's ``DetTTAModel``).

    mmengine's :class:`BaseTTAModel` runs ``module.test_step`` once per view that mmcv's
    ``TestTimeAug`` made (e.g. scales x flips). Every head returns boxes in the original
    image's frame (``rescale=True``), but a flipped view's still mirrored: they are flipped back
    (``flip``, ``flip_direction`` in the view's metainfo), the views' detections concatenated,
    and class-aware NMS keeps at most ``max_per_img``, as mmdet merges them. One view alone
    comes out unchanged when its head's own NMS used a threshold no higher than ``nms_iou_thr``.

    Built by ``tools/test.py --tta`` from the config's ``tta_model`` with ``module`` set to
    ``model``.

    Args:
        module: the detector (config or module).
        nms_iou_thr: IoU threshold of the NMS over the views' detections.
        max_per_img: detections kept per image.
        data_preprocessor: replaces the detector's, if given.
    """

    def __init__(self, module, nms_iou_thr: float = 0.6, max_per_img: int = 100,
                 data_preprocessor=None):
        super().__init__(module, data_preprocessor)
        self.nms_iou_thr = nms_iou_thr
        self.max_per_img = max_per_img

    def merge_preds(self, data_samples_list: list[list[DetDataSample]]) -> list[DetDataSample]:
        """One list of views per image -> one merged sample per image."""
        return [self.merge_views(views) for views in data_samples_list]

    def merge_views(self, views: list[DetDataSample]) -> DetDataSample:
        """The views of one image (``pred_instances`` in the original frame) -> the merged
        sample, with the first view's ground truth and the image's metainfo."""
        boxes, scores, labels = [], [], []
        for view in views:
            pred = view.pred_instances
            view_boxes = pred.bboxes
            if view.metainfo.get('flip', False):  # a mirror is its own inverse
                direction = view.metainfo.get('flip_direction')
                if direction not in ('horizontal', 'vertical'):
                    raise ValueError(f'DetTTAModel cannot undo the flip direction {direction!r} '
                                     f"of '{view.metainfo.get('img_path')}'; RandomFlip makes "
                                     "'horizontal' or 'vertical'")
                view_boxes = flip_boxes(view_boxes, view.metainfo['ori_shape'], direction)
            boxes.append(view_boxes)
            scores.append(pred.scores)
            labels.append(pred.labels)
        boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
        keep = batched_nms(boxes, scores, labels, self.nms_iou_thr)[:self.max_per_img]
        first = views[0]
        sample = DetDataSample(metainfo={k: v for k, v in first.metainfo.items()
                                         if k not in VIEW_META_KEYS})
        sample.pred_instances = InstanceData(bboxes=boxes[keep], scores=scores[keep],
                                             labels=labels[keep])
        if 'gt_instances' in first:
            sample.gt_instances = first.gt_instances
        return sample

"""Test-time augmentation of a segmentor: merge the predictions of augmented views."""
import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData

from vitdense.registry import MODELS
from vitdense.structures import SegDataSample

# Metainfo that describes the image, not one view of it: kept on the merged sample.
IMAGE_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'reduce_zero_label')


@MODELS.register_module()
class SegTTAModel(BaseTTAModel):
    """Averages the class probabilities of a segmentor's augmented views (mmseg's
    ``SegTTAModel``).

    mmengine's :class:`BaseTTAModel` runs ``module.test_step`` once per view that mmcv's
    ``TestTimeAug`` transform made (e.g. scales x flips); the segmentor returns every view's
    logits flipped back and resized to the original image (:meth:`Segmentor.postprocess`), so
    they align pixel for pixel. Merging averages their softmax probabilities, as mmseg does
    (not the logits). The merged sample has ``pred_sem_seg`` (1, H, W) = argmax of the mean
    probability, ``seg_logits`` (K, H, W) = its logarithm (logits whose softmax is the mean),
    the first view's ``gt_sem_seg`` when present, and the image's metainfo
    (``IMAGE_META_KEYS``: path, original shape, ``reduce_zero_label``).

    Built by ``tools/test.py --tta`` from the config's ``tta_model`` with ``module`` set to
    ``model``.

    Args:
        module: the segmentor (config or module).
        data_preprocessor: replaces the segmentor's, if given.
    """

    def merge_preds(self, data_samples_list: list[list[SegDataSample]]) -> list[SegDataSample]:
        """One list of views per image -> one merged sample per image."""
        return [self.merge_views(views) for views in data_samples_list]

    @staticmethod
    def merge_views(views: list[SegDataSample]) -> SegDataSample:
        """The views of one image (each ``seg_logits`` (K, H, W) at the original size) -> the
        merged sample."""
        probs = None  # (K, H, W) sum of the views' probabilities
        for view in views:
            p = view.seg_logits.data.float().softmax(0)
            if probs is not None and p.shape != probs.shape:
                raise ValueError(f"SegTTAModel: the views of '{view.get('img_path')}' have "
                                 f'logits of shapes {tuple(probs.shape)} and {tuple(p.shape)}; '
                                 'each view must be resized back to the original image.')
            probs = p if probs is None else probs + p
        probs /= len(views)
        first = views[0]
        sample = SegDataSample(metainfo={k: first.metainfo[k] for k in IMAGE_META_KEYS
                                         if k in first.metainfo})
        sample.seg_logits = PixelData(data=torch.log(probs))
        sample.pred_sem_seg = PixelData(data=probs.argmax(0, keepdim=True))
        if 'gt_sem_seg' in first:
            sample.gt_sem_seg = first.gt_sem_seg
        return sample

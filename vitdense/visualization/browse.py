"""Ground truth as the model sees it in training: a dataset's samples after its pipeline
(augmentation included), drawn (``tools/analysis/browse_dataset.py``, as mmdet's)."""
import os
import os.path as osp
import random
from typing import Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from vitdense.registry import DATASETS

from .draw import bgr_palette, draw_detections, draw_label_map, make_palette


def packed_image(inputs: torch.Tensor, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, bgr_to_rgb: bool = True) -> np.ndarray:
    """A packed ``inputs`` (3, H, W) back to an (H, W, 3) uint8 BGR image.

    The packing transforms keep uint8 BGR (the data preprocessor normalises later), so such
    inputs come back as they are. Float inputs (a pipeline that normalised) are denormalised
    with the data preprocessor's ``mean`` and ``std`` (RGB order when ``bgr_to_rgb``).
    """
    img = inputs.detach().cpu().numpy().transpose(1, 2, 0)  # (H, W, 3)
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img)
    if mean is None or std is None:
        raise ValueError('The packed image is float (normalised in the pipeline): give the data '
                         "preprocessor's mean and std to draw it.")
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    if bgr_to_rgb:
        mean, std = mean[::-1], std[::-1]  # the image is still BGR
    return np.clip(np.rint(img * std + mean), 0, 255).astype(np.uint8)


def draw_ground_truth(packed: dict, meta: dict, mean: Sequence[float] | None = None,
                      std: Sequence[float] | None = None, bgr_to_rgb: bool = True) -> np.ndarray:
    """The packed sample ``dict(inputs, data_samples)`` with its ground truth drawn: boxes with
    their class (ignored ones, e.g. COCO crowd, grey and marked), or the label map as colours
    blended over the image with a legend of the classes present (the background class, metainfo
    ``background_index``, and ignored pixels left as they are). A label map of another size
    than the image (a test pipeline that loads labels after resizing the image, to score at the
    original size) is resized to the image, nearest neighbour."""
    img = packed_image(packed['inputs'], mean, std, bgr_to_rgb)
    sample = packed['data_samples']
    classes = meta['classes']
    palette = bgr_palette(meta) or make_palette(len(classes))
    if 'gt_instances' in sample:
        ignored = sample.get('ignored_instances')
        if ignored is not None and len(ignored):
            img = draw_detections(img, ignored.bboxes.numpy(), ignored.labels.numpy(), None,
                                  classes, palette=[(160, 160, 160)], suffix=' (ignored)')
        gt = sample.gt_instances
        img = draw_detections(img, gt.bboxes.numpy(), gt.labels.numpy(), None, classes,
                              palette=palette)
    if 'gt_sem_seg' in sample:
        label = sample.gt_sem_seg.data[0].numpy()  # (H, W)
        if label.shape != img.shape[:2]:  # a test pipeline loads labels after its Resize
            label = cv2.resize(label.astype(np.int32), img.shape[1::-1],
                               interpolation=cv2.INTER_NEAREST)
        img = draw_label_map(img, label, classes, palette, meta.get('background_index'))
    return img


def browse_dataset(cfg: Config, out_dir: str, split: str = 'train', num: int = 10,
                   seed: int = 0) -> list[str]:
    """Write the first ``num`` samples of ``cfg``'s ``{split}_dataloader`` dataset, after its
    pipeline, with their ground truth drawn, as ``out_dir/<index>_<image name>.png``.

    Returns:
        The paths written.
    """
    key = f'{split}_dataloader'
    if key not in cfg:
        raise KeyError(f"The config has no {key!r}: choose --split train, val or test.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'vitdense')):
        dataset = DATASETS.build(cfg[key].dataset)
    preprocessor = cfg.model.get('data_preprocessor', {})
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for index in range(min(num, len(dataset))):
        packed = dataset[index]
        img = draw_ground_truth(packed, dataset.metainfo, preprocessor.get('mean'),
                                preprocessor.get('std'), preprocessor.get('bgr_to_rgb', True))
        stem = osp.splitext(osp.basename(packed['data_samples'].img_path))[0]
        written.append(osp.join(out_dir, f'{index:04d}_{stem}.png'))
        cv2.imwrite(written[-1], img)
    return written

"""Segmentation drawing: the dataset's background class is transparent, objects are coloured."""
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from vitdense.datasets.shapes import generate_shapes
from vitdense.registry import DATASETS
from vitdense.visualization import DrawPredictionsHook, draw_segmentation

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPES_SEG = osp.join(ROOT, 'configs/_base_/datasets/shapes_segmentation.py')


@pytest.fixture(scope='module')
def shapes_val(tmp_path_factory: pytest.TempPathFactory):
    """The shapes val split built from the shapes segmentation config, on 3 generated images."""
    root = str(tmp_path_factory.mktemp('shapes_draw'))
    generate_shapes(root, seed=5, num_train=1, num_val=3)
    cfg = Config.fromfile(SHAPES_SEG).val_dataloader.dataset
    cfg.data_root = root
    with DefaultScope.overwrite_default_scope('vitdense'):
        return DATASETS.build(cfg)


def test_background_pixels_keep_the_image():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (61, 93, 3), dtype=np.uint8)
    seg = rng.integers(0, 4, (61, 93))
    seg[:5] = 255
    out = draw_segmentation(img, seg, 4, background_index=0)
    untouched = (seg == 0) | (seg == 255)
    assert (out[untouched] == img[untouched]).all()
    assert (out[~untouched] != img[~untouched]).any(axis=-1).mean() > 0.95
    # Without a background class, class 0 is coloured like any other.
    plain = draw_segmentation(img, seg, 4)
    assert (plain[seg == 0] != img[seg == 0]).any(axis=-1).mean() > 0.95
    with pytest.raises(ValueError, match='background_index=4'):
        draw_segmentation(img, seg, 4, background_index=4)


@pytest.mark.parametrize('with_background', [True, False])
def test_hook_draws_shapes_ground_truth_with_transparent_background(shapes_val, tmp_path,
                                                                    with_background):
    meta = dict(shapes_val.metainfo)
    assert meta['background_index'] == 0 and meta['classes'][0] == 'background'
    if not with_background:
        del meta['background_index']
    hook = DrawPredictionsHook(out_dir=str(tmp_path))
    runner = SimpleNamespace(test_evaluator=SimpleNamespace(dataset_meta=meta), log_dir='')
    hook.before_test(runner)
    samples = []
    for i in range(len(shapes_val)):
        sample = shapes_val[i]['data_samples']
        sample.pred_sem_seg = sample.gt_sem_seg  # ground truth as the prediction
        samples.append(sample)
    hook.after_test_iter(runner, 0, outputs=samples)
    assert len(hook.written) == len(samples)
    for sample, path in zip(samples, hook.written):
        img = cv2.imread(sample.img_path, cv2.IMREAD_COLOR)
        drawn = cv2.imread(path, cv2.IMREAD_COLOR)
        label = sample.gt_sem_seg.data[0].numpy()  # (H, W), 0 = background, 1..8 = shape
        assert drawn.shape == img.shape and label.shape == img.shape[:2]
        bg, fg = label == 0, (label > 0) & (label < 9)
        assert bg.mean() > 0.2 and fg.any()
        fg_changed = (drawn[fg] != img[fg]).any(axis=-1).mean()
        bg_changed = (drawn[bg] != img[bg]).any(axis=-1).mean()
        assert fg_changed > 0.9
        assert bg_changed == 0 if with_background else bg_changed > 0.9

"""shapes segmentation: background is class 0 and learned (9 classes); ADE20K reduces label 0."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from vitdense.datasets import SHAPES_CLASSES, SHAPES_SEG_CLASSES, ADE20KDataset, ShapesSegDataset
from vitdense.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASES = osp.join(ROOT, 'configs/_base_/datasets')


def datasets(cfg: Config) -> list:
    return [cfg.train_dataloader.dataset, cfg.val_dataloader.dataset]


def test_shapes_config_learns_background_as_class_0(shapes_root):
    cfg = Config.fromfile(osp.join(BASES, 'shapes_segmentation.py'))
    for ds_cfg in datasets(cfg):
        with DefaultScope.overwrite_default_scope('vitdense'):
            ds = DATASETS.build(dict(ds_cfg, data_root=shapes_root, lazy_init=True))
        assert ds.metainfo['classes'] == SHAPES_SEG_CLASSES and ds.reduce_zero_label is False
        assert ds.metainfo['background_index'] == 0
    assert SHAPES_SEG_CLASSES[0] == 'background' and len(SHAPES_SEG_CLASSES) == 9
    assert cfg.test_evaluator.background_classes == ('background', )


def test_ade20k_config_keeps_reduce_zero_label():
    cfg = Config.fromfile(osp.join(BASES, 'ade20k.py'))
    for ds in datasets(cfg):
        assert ds.reduce_zero_label is True and 'metainfo' not in ds
    assert ADE20KDataset.REDUCE_ZERO_LABEL is True
    assert 'background_classes' not in cfg.test_evaluator


@pytest.mark.parametrize('metainfo,classes,background', [
    (None, SHAPES_SEG_CLASSES, 0),
    (dict(palette=[(i, i, i) for i in range(9)]), SHAPES_SEG_CLASSES, 0),
    (dict(classes=SHAPES_CLASSES), SHAPES_CLASSES, None),  # no background class left
    (dict(classes=SHAPES_CLASSES[:3] + ('background', )), SHAPES_CLASSES[:3] + ('background', ),
     3),
    (dict(classes=SHAPES_CLASSES, background_index=2), SHAPES_CLASSES, 2),
])
def test_metainfo_override_keeps_a_background_index_only_for_a_background_class(
        shapes_root, metainfo, classes, background):
    ds = ShapesSegDataset(data_root=shapes_root, metainfo=metainfo, lazy_init=True)
    assert ds.metainfo['classes'] == classes and len(ds.metainfo['palette']) == len(classes)
    assert ds.metainfo.get('background_index') == background


def test_shapes_config_loads_labels_0_to_8_as_on_disk(shapes_root):
    cfg = Config.fromfile(osp.join(BASES, 'shapes_segmentation.py')).val_dataloader.dataset
    cfg.data_root = shapes_root
    with DefaultScope.overwrite_default_scope('vitdense'):
        ds = DATASETS.build(cfg)
    assert ds.metainfo['classes'] == SHAPES_SEG_CLASSES and len(ds.metainfo['palette']) == 9
    seen = set()
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['num_classes'] == 9 and info['reduce_zero_label'] is False
        raw = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
        seg = ds[i]['data_samples'].gt_sem_seg.data[0].numpy()
        assert seg.shape == raw.shape and (seg == raw).all()
        seen |= set(np.unique(seg).tolist())
    assert 0 in seen and seen <= set(range(9)) and len(seen) >= 5


@pytest.mark.parametrize('index', [9, -1, '0', True])
def test_background_index_must_be_a_class_index(shapes_root, index):
    with pytest.raises(ValueError, match=f'background_index={index!r}'):
        ADE20KDataset(data_root=shapes_root, reduce_zero_label=False,
                      metainfo=dict(classes=SHAPES_SEG_CLASSES, background_index=index))

"""ADE20KDataset on the generated shapes (ADE20K layout), split files and bad input."""
import os

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from vitdense.datasets import ADE20K_CLASSES, SHAPES_CLASSES, SHAPES_SEG_CLASSES, ADE20KDataset
from vitdense.datasets.ade20k import ADE20K_PALETTE
from vitdense.registry import DATASETS


def test_entries_pair_images_with_label_maps(shapes_root):
    ds = ADE20KDataset(data_root=shapes_root, metainfo=dict(classes=SHAPES_CLASSES))
    names = sorted(os.listdir(os.path.join(shapes_root, 'images/training')))
    assert len(ds) == len(names) and len(ADE20KDataset.METAINFO['classes']) == 150
    for i, name in enumerate(names):
        info = ds.get_data_info(i)
        assert info['img_path'] == os.path.join(shapes_root, 'images/training', name)
        assert info['seg_map_path'] == os.path.join(shapes_root, 'annotations/training',
                                                    name.replace('.jpg', '.png'))
        assert os.path.isfile(info['seg_map_path'])
        assert info['num_classes'] == 8 and info['reduce_zero_label'] is True
        assert info['seg_fields'] == []
    assert len(ds.metainfo['palette']) == 8 and ADE20K_CLASSES[0] == 'wall'


def test_ade20k_metainfo_is_scene_parse_150():
    """The 150 SceneParse150 names in label order and mmseg's palette, spot-checked by index."""
    assert len(ADE20K_CLASSES) == len(set(ADE20K_CLASSES)) == len(ADE20K_PALETTE) == 150
    named = {0: 'wall', 7: 'bed', 12: 'person', 20: 'car', 44: 'chest of drawers',
             89: 'television receiver', 127: 'bicycle', 138: 'ashcan', 149: 'flag'}
    assert {i: ADE20K_CLASSES[i] for i in named} == named
    coloured = {0: (120, 120, 120), 1: (180, 120, 120), 12: (150, 5, 61), 20: (0, 102, 200),
                149: (92, 0, 255)}
    assert {i: ADE20K_PALETTE[i] for i in coloured} == coloured
    assert ADE20K_PALETTE[6] == ADE20K_PALETTE[48] == (140, 140, 140)  # as mmseg's
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in ADE20K_PALETTE)
    meta = ADE20KDataset.METAINFO
    assert meta['classes'] == ADE20K_CLASSES and meta['palette'] == ADE20K_PALETTE
    assert ADE20KDataset.REDUCE_ZERO_LABEL is True


@pytest.mark.parametrize('reduce', [True, False])
def test_loaded_labels_follow_reduce_zero_label(shapes_root, reduce):
    classes = SHAPES_CLASSES if reduce else SHAPES_SEG_CLASSES
    cfg = dict(type='ADE20KDataset', data_root=shapes_root, reduce_zero_label=reduce,
               data_prefix=dict(img_path='images/validation',
                                seg_map_path='annotations/validation'),
               metainfo=dict(classes=classes),
               pipeline=[dict(type='LoadImageFromFile'),
                         dict(type='LoadAnnotations', with_bbox=False, with_label=False,
                              with_seg=True),
                         dict(type='PackSegInputs')])
    with DefaultScope.overwrite_default_scope('vitdense'):
        ds = DATASETS.build(cfg)
        out = ds[1]
    raw = cv2.imread(ds.get_data_info(1)['seg_map_path'], cv2.IMREAD_UNCHANGED).astype(np.int64)
    seg = out['data_samples'].gt_sem_seg.data
    assert seg.shape == (1, ) + raw.shape == (1, ) + tuple(out['inputs'].shape[1:])
    want = np.where(raw == 0, 255, raw - 1) if reduce else raw
    assert (seg[0].numpy() == want).all()
    assert out['data_samples'].reduce_zero_label is reduce


def test_split_file_selects_images(shapes_root, tmp_path):
    split = tmp_path / 'split.txt'
    split.write_text('000003\n000001\n\n')
    ds = ADE20KDataset(data_root=shapes_root, ann_file=str(split),
                       metainfo=dict(classes=SHAPES_CLASSES))
    assert [os.path.basename(d['img_path']) for d in ds] == ['000003.jpg', '000001.jpg']


def test_missing_data_root_says_where_ade20k_goes(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        ADE20KDataset(data_root=str(tmp_path / 'ade'))
    assert 'data/ade/ADEChallengeData2016/{images,annotations}/{training,validation}' in \
        str(err.value)
    assert 'python -m vitdense.datasets.shapes --out data/shapes' in str(err.value)
    (tmp_path / 'ade/images/training').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='annotations/training'):
        ADE20KDataset(data_root=str(tmp_path / 'ade'))
    (tmp_path / 'ade/annotations/training').mkdir(parents=True)
    with pytest.raises(ValueError, match=r"No '\*\.jpg' images"):
        ADE20KDataset(data_root=str(tmp_path / 'ade'))


def test_bad_metainfo_palette_and_prefix_are_rejected(shapes_root):
    with pytest.raises(ValueError, match='palette'):
        ADE20KDataset(data_root=shapes_root,
                      metainfo=dict(classes=('a', 'b'), palette=[(1, 2, 3)]))
    with pytest.raises(ValueError, match='data_prefix'):
        ADE20KDataset(data_root=shapes_root, data_prefix=dict(img='images/training'))

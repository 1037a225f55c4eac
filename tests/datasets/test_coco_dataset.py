"""CocoDataset on the generated shapes and on hand-written COCO files, including bad input."""
import json
import os
import warnings

import cv2
import pytest
import torch
from mmengine.registry import DefaultScope

from vitdense.datasets import SHAPES_CLASSES, CocoDataset
from vitdense.registry import DATASETS


def _shapes(shapes_root: str, **kwargs) -> CocoDataset:
    return CocoDataset(data_root=shapes_root, ann_file='annotations/instances_train.json',
                       data_prefix=dict(img='train/'), **kwargs)


def _write_coco(folder, images, annotations, categories=None) -> str:
    path = os.path.join(folder, 'ann.json')
    categories = categories or [dict(id=3, name='cat'), dict(id=7, name='dog')]
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return path


def _image(i: int, w: int = 93, h: int = 61) -> dict:
    return dict(id=i, file_name=f'{i}.jpg', width=w, height=h)


def _ann(i: int, image_id: int, bbox, cat: int = 3, iscrowd: int = 0) -> dict:
    return dict(id=i, image_id=image_id, category_id=cat, bbox=bbox, area=bbox[2] * bbox[3],
                iscrowd=iscrowd)


def test_shapes_entries_match_the_json(shapes_root):
    ds = _shapes(shapes_root, metainfo=dict(classes=SHAPES_CLASSES))
    with open(os.path.join(shapes_root, 'annotations/instances_train.json')) as f:
        coco = json.load(f)
    assert len(ds) == len(coco['images'])
    assert ds.cat_ids == list(range(1, 9)) and ds.cat2label == {i + 1: i for i in range(8)}
    assert len(ds.metainfo['palette']) == len(SHAPES_CLASSES)
    labels = set()
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert os.path.isfile(info['img_path'])
        h, w = cv2.imread(info['img_path']).shape[:2]
        assert (info['height'], info['width']) == (h, w)
        anns = [a for a in coco['annotations'] if a['image_id'] == info['img_id']]
        assert len(info['instances']) == len(anns)
        for inst, ann in zip(info['instances'], anns):
            x, y, bw, bh = ann['bbox']
            assert inst['bbox'] == [x, y, x + bw, y + bh]
            assert inst['bbox_label'] == ann['category_id'] - 1
            assert inst['ignore_flag'] == ann['iscrowd']
            labels.add(inst['bbox_label'])
    assert labels <= set(range(8)) and len(labels) >= 6


def test_class_override_keeps_those_classes_in_that_order(shapes_root):
    ds = _shapes(shapes_root, metainfo=dict(classes=('star', 'circle')))
    assert ds.cat_ids == [4, 1] and ds.metainfo['classes'] == ('star', 'circle')
    full = _shapes(shapes_root, metainfo=dict(classes=SHAPES_CLASSES))
    for i in range(len(ds)):
        want = [{3: 0, 0: 1}[inst['bbox_label']] for inst in full.get_data_info(i)['instances']
                if inst['bbox_label'] in (0, 3)]
        assert [inst['bbox_label'] for inst in ds.get_data_info(i)['instances']] == want


def test_default_classes_are_coco_and_mismatch_is_explained(shapes_root):
    assert len(CocoDataset.METAINFO['classes']) == 80
    with pytest.raises(ValueError, match=r"metainfo=dict\(classes="):
        _shapes(shapes_root)  # the 80 COCO names are not in the shapes file


def test_crowd_is_ignored_and_empty_images_are_filtered_in_training(tmp_path):
    ann = _write_coco(tmp_path, [_image(1), _image(2), _image(3), _image(4, w=30)],
                      [_ann(1, 1, [10, 10, 20, 20]), _ann(2, 1, [0, 0, 50, 40], iscrowd=1),
                       _ann(3, 2, [5, 5, 10, 10], iscrowd=1), _ann(4, 4, [1, 1, 5, 5], cat=7)])
    kwargs = dict(ann_file=ann, metainfo=dict(classes=('cat', 'dog')))
    test = CocoDataset(test_mode=True, filter_cfg=dict(filter_empty_gt=True), **kwargs)
    assert [d['img_id'] for d in test] == [1, 2, 3, 4]
    assert [i['ignore_flag'] for i in test[0]['instances']] == [0, 1]
    assert test[3]['instances'][0]['bbox_label'] == 1
    train = CocoDataset(filter_cfg=dict(filter_empty_gt=True), **kwargs)
    assert [d['img_id'] for d in train] == [1, 4]  # 2 has only a crowd box, 3 none
    assert [d['img_id'] for d in CocoDataset(**kwargs)] == [1, 2, 3, 4]
    sized = CocoDataset(filter_cfg=dict(filter_empty_gt=False, min_size=40), **kwargs)
    assert [d['img_id'] for d in sized] == [1, 2, 3]
    with pytest.raises(ValueError, match='min_area'):
        CocoDataset(filter_cfg=dict(min_area=3), **kwargs)


def test_bad_boxes_are_clipped_or_dropped_with_one_warning(tmp_path):
    ann = _write_coco(tmp_path, [_image(1), _image(2)],
                      [_ann(1, 1, [10, 10, 20, 20]),
                       _ann(2, 1, [80, 50, 30, 30]),    # crosses the corner: clipped
                       _ann(3, 1, [20, 20, 0, 10]),     # zero width: dropped
                       _ann(4, 2, [200, 10, 10, 10]),   # outside the image: dropped
                       _ann(5, 2, [-5, 30, 0.5, 4])])   # sub-pixel after clipping: dropped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ds = CocoDataset(ann_file=ann, metainfo=dict(classes=('cat', 'dog')))
    messages = [str(w.message) for w in caught if 'boxes' in str(w.message)]
    assert len(messages) == 1
    assert 'dropped 3' in messages[0] and 'clipped 1' in messages[0] and ann in messages[0]
    assert [i['bbox'] for i in ds[0]['instances']] == [[10, 10, 30, 30], [80, 50, 93, 61]]
    assert ds[1]['instances'] == []


def test_missing_data_root_says_how_to_get_data(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        CocoDataset(data_root=str(tmp_path / 'nope'), ann_file='annotations/x.json')
    assert 'python -m vitdense.datasets.shapes --out data/shapes' in str(err.value)
    assert 'data/coco/{annotations,train2017,val2017}' in str(err.value)
    with pytest.raises(FileNotFoundError, match='instances_val.json'):
        CocoDataset(data_root=str(tmp_path), ann_file='instances_val.json')


def test_invalid_json_names_file_and_position(tmp_path):
    path = tmp_path / 'broken.json'
    path.write_text('{"images": [\n  {"id": 1,}\n]}')
    with pytest.raises(ValueError, match=r"broken\.json.*line 2, column 12"):
        CocoDataset(ann_file=str(path))
    path.write_text('[1, 2]')
    with pytest.raises(ValueError, match="no 'images'"):
        CocoDataset(ann_file=str(path))


def test_pipeline_from_config_runs_on_shapes(shapes_root):
    """Built through the registry with string types, as a config does."""
    cfg = dict(type='CocoDataset', data_root=shapes_root,
               ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
               metainfo=dict(classes=SHAPES_CLASSES), test_mode=True,
               pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                         dict(type='Resize', scale=(97, 61), keep_ratio=True),
                         dict(type='PackDetInputs')])
    with DefaultScope.overwrite_default_scope('vitdense'):
        ds = DATASETS.build(cfg)
        out = ds[0]
    sample = out['data_samples']
    h, w = out['inputs'].shape[1:]
    assert max(h, w) <= 97 and min(h, w) <= 61 and (max(h, w) == 97 or min(h, w) == 61)
    assert sample.img_shape == (h, w) and sample.img_id == ds.get_data_info(0)['img_id']
    boxes = sample.gt_instances.bboxes
    assert boxes.dtype == torch.float32 and len(boxes) > 0
    assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()


def test_image_listed_but_missing_on_disk(tmp_path):
    ann = _write_coco(tmp_path, [_image(1)], [_ann(1, 1, [10, 10, 20, 20])])
    with DefaultScope.overwrite_default_scope('vitdense'):
        ds = CocoDataset(ann_file=ann, data_prefix=dict(img=str(tmp_path / 'train2017')),
                         metainfo=dict(classes=('cat', )),
                         pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
        with pytest.raises(FileNotFoundError, match=r"train2017/1\.jpg' does not exist"):
            ds[0]


def test_label_maps_beside_the_boxes(shapes_root):
    """data_prefix['seg'] names each image's label map (mmdet's convention); LoadAnnotations
    reads it and PackDetInputs packs it as gt_sem_seg, through the same resize as the boxes."""
    cfg = dict(type='ShapesDataset', data_root=shapes_root,
               ann_file='annotations/instances_train.json',
               data_prefix=dict(img='train/', seg='annotations/training/'),
               pipeline=[dict(type='LoadImageFromFile'),
                         dict(type='LoadAnnotations', with_bbox=True, with_seg=True),
                         dict(type='Resize', scale=(97, 61), keep_ratio=True),
                         dict(type='PackDetInputs')])
    with DefaultScope.overwrite_default_scope('vitdense'):
        ds = DATASETS.build(cfg)
        out = ds[0]
    info = ds.get_data_info(0)
    stem = os.path.splitext(os.path.basename(info['img_path']))[0]
    assert info['seg_map_path'] == os.path.join(shapes_root, 'annotations/training', stem + '.png')
    label = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
    seg = out['data_samples'].gt_sem_seg.data
    h, w = out['inputs'].shape[1:]
    assert seg.shape == (1, h, w) and seg.dtype == torch.int64
    expected = cv2.resize(label, (w, h), interpolation=cv2.INTER_NEAREST)
    assert (seg[0].numpy() == expected).mean() > 0.97  # nearest-neighbour rounding at the edges
    assert set(seg.unique().tolist()) <= set(range(9)) and len(seg.unique()) > 1
    # without a seg folder there is no label map, and asking for one says what to set
    plain = _shapes(shapes_root, metainfo=dict(classes=SHAPES_CLASSES))
    assert plain.get_data_info(0)['seg_map_path'] is None
    with pytest.raises(ValueError, match=r"data_prefix=dict\(img='<image folder>/'\) and "
                                         r"optionally seg="):
        CocoDataset(data_root=shapes_root, ann_file='annotations/instances_train.json',
                    data_prefix=dict(img='train/', seg_map_path='annotations/training/'))

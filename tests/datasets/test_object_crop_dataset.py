"""ObjectCropDataset: one entry per qualifying object of a COCO file, labels in class order."""
import json
import os

import pytest
from mmengine.registry import DefaultScope

from vitdense.datasets import SHAPES_CLASSES, ObjectCropDataset
from vitdense.registry import DATASETS


def _qualifying(coco: dict, classes, min_size: float) -> list[tuple]:
    """(image id, label, [x1, y1, x2, y2]) of each non-crowd, clipped, large-enough object."""
    name2id = {c['name']: c['id'] for c in coco['categories']}
    label_of = {name2id[name]: i for i, name in enumerate(classes)}
    size = {img['id']: (img['width'], img['height']) for img in coco['images']}
    out = []
    for img in coco['images']:
        for ann in coco['annotations']:
            if ann['image_id'] != img['id'] or ann['iscrowd'] or \
                    ann['category_id'] not in label_of:
                continue
            x, y, w, h = ann['bbox']
            iw, ih = size[img['id']]
            box = [max(x, 0), max(y, 0), min(x + w, iw), min(y + h, ih)]
            if max(box[2] - box[0], box[3] - box[1]) >= min_size:
                out.append((img['id'], label_of[ann['category_id']], box))
    return out


@pytest.mark.parametrize('classes,min_size', [(SHAPES_CLASSES, 12), (('star', 'circle'), 12),
                                              (SHAPES_CLASSES, 30)])
def test_one_entry_per_qualifying_object(shapes_root, classes, min_size):
    ds = ObjectCropDataset(ann_file='annotations/instances_train.json', data_root=shapes_root,
                           data_prefix=dict(img='train/'), metainfo=dict(classes=classes),
                           min_size=min_size)
    with open(os.path.join(shapes_root, 'annotations/instances_train.json')) as f:
        coco = json.load(f)
    want = _qualifying(coco, classes, min_size)
    assert len(want) > 10
    got = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(e['img_id'], e['gt_label'], e['bbox']) for e in got] == want
    files = {img['id']: img['file_name'] for img in coco['images']}
    for entry in got:
        assert entry['img_path'] == os.path.join(shapes_root, 'train', files[entry['img_id']])
        assert all(isinstance(v, float) for v in entry['bbox'])
    assert ds.metainfo['classes'] == tuple(classes)


def test_crowd_and_small_objects_are_skipped(tmp_path):
    images = [dict(id=1, file_name='1.jpg', width=93, height=61)]
    anns = [dict(id=1, image_id=1, category_id=7, bbox=[10, 10, 20, 5], iscrowd=0),
            dict(id=2, image_id=1, category_id=3, bbox=[0, 0, 50, 40], iscrowd=1),
            dict(id=3, image_id=1, category_id=3, bbox=[5, 5, 11, 11], iscrowd=0),
            dict(id=4, image_id=1, category_id=3, bbox=[85, 50, 30, 30], iscrowd=0)]
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns,
                                    categories=[dict(id=3, name='cat'), dict(id=7, name='dog')])))
    with pytest.warns(UserWarning, match='clipped 1 boxes'):  # CocoDataset's parsing
        ds = ObjectCropDataset(ann_file=str(path), metainfo=dict(classes=('cat', 'dog')))
    # skipped: the crowd box (2), the 11 px box (3) and box 4, 8 x 11 px once clipped
    assert [(e['gt_label'], e['bbox']) for e in ds] == [(1, [10.0, 10.0, 30.0, 15.0])]
    with pytest.warns(UserWarning):
        ds = ObjectCropDataset(ann_file=str(path), metainfo=dict(classes=('cat', 'dog')),
                               min_size=0)
    assert [e['bbox'] for e in ds][1:] == [[5.0, 5.0, 16.0, 16.0], [85.0, 50.0, 93.0, 61.0]]


def test_missing_files_and_bad_arguments_explain(tmp_path):
    with pytest.raises(FileNotFoundError, match='python -m vitdense.datasets.shapes'):
        ObjectCropDataset(data_root=str(tmp_path / 'nope'), ann_file='annotations/x.json')
    with pytest.raises(FileNotFoundError, match='instances_val.json'):
        ObjectCropDataset(data_root=str(tmp_path), ann_file='instances_val.json')
    with pytest.raises(ValueError, match='data_prefix'):
        ObjectCropDataset(data_prefix=dict(img='a/', seg='b/'))
    with pytest.raises(ValueError, match='min_size'):
        ObjectCropDataset(min_size=-1)


def test_pipeline_from_config_gives_crops(shapes_root):
    cfg = dict(type='ObjectCropDataset', data_root=shapes_root,
               ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
               metainfo=dict(classes=SHAPES_CLASSES), test_mode=True,
               pipeline=[dict(type='LoadImageFromFile'),
                         dict(type='CropObject', margin_range=(0.2, 0.2)),
                         dict(type='Resize', scale=(64, 64)), dict(type='RandomFlip', prob=0.5),
                         dict(type='PackClsInputs')])
    with DefaultScope.overwrite_default_scope('vitdense'):
        ds = DATASETS.build(cfg)
        out = ds[1]
    assert out['inputs'].shape == (3, 64, 64)
    sample = out['data_samples']
    assert sample.gt_label.tolist() == [ds.get_data_info(1)['gt_label']]
    assert sample.img_shape == (64, 64) and sample.img_path == ds.get_data_info(1)['img_path']

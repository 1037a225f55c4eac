"""YoloDataset: the shapes data written as YOLO files reads back as CocoDataset's entries; data
YAML variants; every kind of bad label line is reported with its file and line."""
import json
import os

import cv2
import numpy as np
import pytest
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from vitdense.datasets import SHAPES_CLASSES, ShapesDataset, YoloDataset
from vitdense.datasets.yolo_format import label_path, read_label_file
from vitdense.registry import DATASETS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _write(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return path


def _image(path: str, w: int = 93, h: int = 61, exif_orientation: int = 0) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = Image.fromarray(np.full((h, w, 3), 128, np.uint8))
    exif = Image.Exif()
    if exif_orientation:
        exif[0x0112] = exif_orientation
    img.save(path, exif=exif)


def _tiny(root, labels: dict[str, str], names=('cat', 'dog'), yaml_text: str | None = None) -> str:
    """images/val/<stem>.jpg (93 x 61) with the given label texts (None: no label file)."""
    for stem, text in labels.items():
        _image(os.path.join(root, 'images', 'val', f'{stem}.jpg'))
        if text is not None:
            _write(os.path.join(root, 'labels', 'val', f'{stem}.txt'), text)
    return _write(os.path.join(root, 'data.yaml'), yaml_text or yaml.safe_dump(
        dict(path='.', train='images/train', val='images/val', names=list(names))))


@pytest.mark.parametrize('split', ['train', 'val'])
def test_shapes_as_yolo_reads_back_as_coco_entries(shapes_root, shapes_yolo_root, split):
    coco = ShapesDataset(data_root=shapes_root, ann_file=f'annotations/instances_{split}.json',
                         data_prefix=dict(img=f'{split}/'), test_mode=True)
    yolo = YoloDataset(data_root=shapes_yolo_root, split=split, test_mode=True)
    assert yolo.metainfo['classes'] == SHAPES_CLASSES
    assert len(yolo.metainfo['palette']) == len(SHAPES_CLASSES)
    assert len(yolo) == len(coco)
    for i in range(len(coco)):
        a, b = yolo.get_data_info(i), coco.get_data_info(i)
        assert os.path.basename(a['img_path']) == os.path.basename(b['img_path'])
        assert (a['height'], a['width']) == (b['height'], b['width'])
        h, w = cv2.imread(a['img_path']).shape[:2]
        assert (a['height'], a['width']) == (h, w)
        kept = [inst for inst in b['instances'] if not inst['ignore_flag']]  # crowd left out
        assert len(a['instances']) == len(kept)
        for got, want in zip(a['instances'], kept):
            assert got['bbox_label'] == want['bbox_label'] and got['ignore_flag'] == 0
            # 6 decimals of a fraction of <= 384 px: within 1e-3 px
            np.testing.assert_allclose(got['bbox'], want['bbox'], atol=1e-3)


def test_built_from_the_yolo_config_through_its_pipeline(shapes_yolo_root):
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/fcos/fcos_vit-t-hybrid_1xb4-demo_yolo.py'))
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        with DefaultScope.overwrite_default_scope('vitdense'):
            ds = DATASETS.build(dict(loader.dataset, data_root=shapes_yolo_root))
        sample = ds[0]
        assert sample['inputs'].shape[0] == 3 and max(sample['inputs'].shape[1:]) <= 400
        gt = sample['data_samples'].gt_instances
        assert gt.bboxes.shape[1] == 4 and len(gt.labels) == len(gt.bboxes)
        assert int(gt.labels.max()) < cfg.model.bbox_head.num_classes


def test_names_as_dict_path_and_txt_list(tmp_path):
    root = tmp_path / 'data'
    _tiny(str(root), {'a': '1 0.5 0.5 0.2 0.4\n', 'b': '0 0.25 0.5 0.5 1.0\n\n'})
    _write(str(root / 'val.txt'), './images/val/b.jpg\n')
    yaml_path = _write(str(tmp_path / 'elsewhere' / 'shapes.yaml'), yaml.safe_dump(
        dict(path='../data', val='val.txt', names={0: 'cat', 1: 'dog'}, nc=2)))
    ds = YoloDataset(ann_file=yaml_path, split='val', test_mode=True)
    assert ds.metainfo['classes'] == ('cat', 'dog') and len(ds) == 1
    info = ds.get_data_info(0)
    assert info['img_path'].endswith('b.jpg') and (info['width'], info['height']) == (93, 61)
    # cx 0.25 w 0.5 -> x 0..46.5; cy 0.5 h 1.0 -> y 0..61
    np.testing.assert_allclose(info['instances'][0]['bbox'], [0, 0, 46.5, 61])
    assert info['instances'][0]['bbox_label'] == 0


def test_roboflow_layout_and_missing_label_file_is_background(tmp_path):
    root = str(tmp_path)
    for stem in ('x', 'y'):
        _image(os.path.join(root, 'valid', 'images', f'{stem}.png'))
    _write(os.path.join(root, 'valid', 'labels', 'x.txt'), '1 0.5 0.5 0.2 0.2\n')
    _write(os.path.join(root, 'data.yaml'), 'val: valid/images\nnames: [cat, dog]\n')
    assert label_path(os.path.join(root, 'valid', 'images', 'x.png')) == os.path.join(
        root, 'valid', 'labels', 'x.txt')
    ds = YoloDataset(data_root=root, ann_file='data.yaml', split='val', test_mode=True)
    assert [len(ds.get_data_info(i)['instances']) for i in range(2)] == [1, 0]
    assert [ds.get_data_info(i)['img_id'] for i in range(2)] == [1, 2]
    train = YoloDataset(data_root=root, ann_file='data.yaml', split='val',
                        filter_cfg=dict(filter_empty_gt=True))
    assert len(train) == 1  # the background image is filtered out in training only


def test_exif_rotated_image_size_is_the_decoded_one(tmp_path):
    _image(str(tmp_path / 'images' / 'val' / 'r.jpg'), w=93, h=61, exif_orientation=6)
    _write(str(tmp_path / 'data.yaml'), 'val: images/val\nnames: [cat]\n')
    info = YoloDataset(data_root=str(tmp_path), split='val', test_mode=True).get_data_info(0)
    h, w = cv2.imread(info['img_path']).shape[:2]
    assert (info['height'], info['width']) == (h, w) == (93, 61)


def test_boxes_crossing_the_border_are_clipped_and_empty_ones_dropped(tmp_path):
    _tiny(str(tmp_path), {'a': '0 0.95 0.5 0.2 0.2\n1 0.5 0.5 0 0.3\n'})
    with pytest.warns(UserWarning, match='dropped 1 boxes under 1 px, clipped 1'):
        ds = YoloDataset(data_root=str(tmp_path), split='val', test_mode=True)
    [inst] = ds.get_data_info(0)['instances']
    np.testing.assert_allclose(inst['bbox'], [0.85 * 93, 0.4 * 61, 93, 0.6 * 61])


@pytest.mark.parametrize('line, match', [
    ('0 0.5 0.5 0.2', r"line 2: expected 5 fields 'class cx cy w h', got 4"),
    ('0 0.1 0.1 0.2 0.1 0.2 0.3', r'got 7 .*looks like a polygon'),
    ('2 0.5 0.5 0.2 0.2', r"line 2: class '2' is not a class number 0..1"),
    ('-1 0.5 0.5 0.2 0.2', r"line 2: class '-1' is not a class number"),
    ('0.5 0.5 0.5 0.2 0.2', r"line 2: class '0.5' is not a class number"),
    ('0 1.2 0.5 0.2 0.2', r'line 2: cx=1.2 is outside 0..1'),
    ('0 0.5 0.5 0.2 -0.1', r'line 2: h=-0.1 is outside 0..1'),
    ('0 0.5 abc 0.2 0.2', r"line 2: 'abc' is not a finite number"),
    ('0 0.5 nan 0.2 0.2', r"line 2: 'nan' is not a finite number"),
    ('cat 0.5 0.5 0.2 0.2', r"line 2: 'cat' is not a finite number"),
])
def test_bad_label_lines_name_file_and_line(tmp_path, line, match):
    _tiny(str(tmp_path), {'a': f'1 0.5 0.5 0.2 0.2\n{line}\n'})
    with pytest.raises(ValueError, match=match) as err:
        YoloDataset(data_root=str(tmp_path), split='val', test_mode=True)
    assert os.path.join(str(tmp_path), 'labels', 'val', 'a.txt') in str(err.value)


def test_label_file_rows(tmp_path):
    path = _write(str(tmp_path / 'l.txt'), '1 0.5 0.25 0.2 0.4\n\n0 1 1.0000001 0 0\n')
    np.testing.assert_allclose(read_label_file(path, 2),
                               [[1, 0.5, 0.25, 0.2, 0.4], [0, 1, 1.0000001, 0, 0]])
    assert read_label_file(str(tmp_path / 'missing.txt'), 2).shape == (0, 5)


@pytest.mark.parametrize('yaml_text, split, match', [
    ('val: images/val\n', 'val', "has no 'names' key"),
    ('val: images/val\nnames: {0: cat, 2: dog}\n', 'val', 'without gaps, got \\[0, 2\\]'),
    ('val: images/val\nnames: [cat, cat]\n', 'val', "class names \\['cat'\\] appear more"),
    ('val: images/val\nnames: [cat, dog]\nnc: 3\n', 'val', 'nc=3 but'),
    ('val: images/val\nnames: [cat, dog]\n', 'test', "has no 'test' entry"),
    ('val: images/nowhere\nnames: [cat, dog]\n', 'val', 'neither a folder nor a .txt'),
    ('val: [images/val\n', 'val', 'is not valid YAML'),
])
def test_bad_data_yaml(tmp_path, yaml_text, split, match):
    yaml_path = _tiny(str(tmp_path), {'a': ''}, yaml_text=yaml_text)
    with pytest.raises(ValueError if 'neither' not in match else FileNotFoundError,
                       match=match) as err:
        YoloDataset(data_root=str(tmp_path), split=split, test_mode=True)
    assert yaml_path in str(err.value)


def test_missing_yaml_and_class_mismatch(tmp_path):
    with pytest.raises(FileNotFoundError, match="Data YAML '.*nope.yaml' does not exist"):
        YoloDataset(data_root=str(tmp_path), ann_file='nope.yaml', split='val')
    _tiny(str(tmp_path), {'a': ''})
    with pytest.raises(ValueError, match=r"metainfo classes \('dog', 'cat'\) differ"):
        YoloDataset(data_root=str(tmp_path), split='val', metainfo=dict(classes=('dog', 'cat')))
    with pytest.raises(ValueError, match='Unknown filter_cfg keys'):
        YoloDataset(data_root=str(tmp_path), split='val', filter_cfg=dict(min_area=3))


def test_coco_to_yolo_output(shapes_root, shapes_yolo_root):
    with open(os.path.join(shapes_yolo_root, 'data.yaml')) as f:
        data = yaml.safe_load(f)
    assert data == dict(path='.', train='images/train', val='images/val',
                        names=dict(enumerate(SHAPES_CLASSES)))
    with open(os.path.join(shapes_root, 'annotations', 'instances_val.json')) as f:
        coco = json.load(f)
    img = coco['images'][0]
    anns = [a for a in coco['annotations'] if a['image_id'] == img['id'] and not a['iscrowd']]
    stem = os.path.splitext(img['file_name'])[0]
    rows = read_label_file(os.path.join(shapes_yolo_root, 'labels', 'val', f'{stem}.txt'), 8)
    x, y, w, h = anns[0]['bbox']
    np.testing.assert_allclose(rows[0], [anns[0]['category_id'] - 1, (x + w / 2) / img['width'],
                                         (y + h / 2) / img['height'], w / img['width'],
                                         h / img['height']], atol=5e-7)

"""The shapes generator: determinism, valid COCO / ADE20K files, scenes that are not trivial."""
import json
import os

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from vitdense.datasets.shapes import (
    MAX_OBJECTS,
    MAX_SIDE,
    MIN_SIDE,
    MIN_VISIBLE_PIXELS,
    SHAPES_CLASSES,
    draw_shape,
    generate_shapes,
    main,
    render_scene,
    shapes_exists,
)
from vitdense.datasets.shapes import MAX_SIDE as NOISE_SIDE


def _read(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()


def test_same_seed_gives_identical_files(tmp_path):
    for name, seed in (('a', 5), ('b', 5), ('c', 6)):
        generate_shapes(str(tmp_path / name), seed=seed, num_train=3, num_val=2)
    for rel in ('annotations/instances_train.json', 'annotations/instances_val.json',
                'annotations/training/000002.png', 'train/000002.jpg', 'val/000001.jpg'):
        assert _read(tmp_path / 'a' / rel) == _read(tmp_path / 'b' / rel), rel
    assert _read(tmp_path / 'a/annotations/instances_train.json') != \
        _read(tmp_path / 'c/annotations/instances_train.json')


def test_coco_files_are_valid(shapes_root):
    coco = COCO(os.path.join(shapes_root, 'annotations/instances_train.json'))
    assert len(coco.getImgIds()) == len(os.listdir(os.path.join(shapes_root, 'train'))) > 0
    cats = coco.loadCats(coco.getCatIds())
    assert [c['name'] for c in cats] == list(SHAPES_CLASSES) and len(cats) >= 6
    assert [c['id'] for c in cats] == list(range(1, len(SHAPES_CLASSES) + 1))
    for ann in coco.loadAnns(coco.getAnnIds()):
        img = coco.imgs[ann['image_id']]
        x, y, w, h = ann['bbox']
        assert x >= 0 and y >= 0 and w >= 1 and h >= 1
        assert x + w <= img['width'] and y + h <= img['height']
        assert 0 < ann['area'] <= w * h
        assert ann['iscrowd'] in (0, 1)
        if not ann['iscrowd']:
            assert ann['area'] >= MIN_VISIBLE_PIXELS
        assert all(len(p) >= 6 and len(p) % 2 == 0 for p in ann['segmentation'])
        mask = coco.annToMask(ann)
        ys, xs = np.nonzero(mask)
        assert xs.min() >= x - 1 and xs.max() <= x + w and ys.min() >= y - 1 and ys.max() <= y + h


def test_boxes_match_label_maps(shapes_root):
    """Each box is the tight box of its object's pixels in the label map, image sizes agree."""
    for det_split, seg_split in (('train', 'training'), ('val', 'validation')):
        with open(os.path.join(shapes_root, f'annotations/instances_{det_split}.json')) as f:
            coco = json.load(f)
        anns = {img['id']: [] for img in coco['images']}
        for ann in coco['annotations']:
            anns[ann['image_id']].append(ann)
        for img in coco['images']:
            stem = img['file_name'][:-4]
            jpg = os.path.join(shapes_root, det_split, img['file_name'])
            seg_jpg = os.path.join(shapes_root, 'images', seg_split, img['file_name'])
            assert _read(jpg) == _read(seg_jpg)
            seg = cv2.imread(os.path.join(shapes_root, 'annotations', seg_split, f'{stem}.png'),
                             cv2.IMREAD_UNCHANGED)
            assert seg.dtype == np.uint8 and seg.ndim == 2
            assert seg.shape == cv2.imread(jpg).shape[:2] == (img['height'], img['width'])
            assert seg.max() <= len(SHAPES_CLASSES)
            for ann in anns[img['id']]:
                x, y, w, h = ann['bbox']
                inside = seg[y:y + h, x:x + w] == ann['category_id']
                assert inside.sum() >= ann['area']
                # tight: every side of the box touches a pixel of the class
                assert inside[0].any() and inside[-1].any()
                assert inside[:, 0].any() and inside[:, -1].any()


def test_scenes_are_varied(shapes_root):
    with open(os.path.join(shapes_root, 'annotations/instances_train.json')) as f:
        coco = json.load(f)
    sizes = {(img['width'], img['height']) for img in coco['images']}
    assert all(MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE for w, h in sizes)
    assert len({w for w, _ in sizes}) >= 6 and len({h for _, h in sizes}) >= 6
    assert len({a['category_id'] for a in coco['annotations']}) >= 6
    sides = [max(a['bbox'][2:]) for a in coco['annotations'] if not a['iscrowd']]
    assert min(sides) < 16 and max(sides) > 80
    per_image = np.bincount([a['image_id'] for a in coco['annotations']])
    assert per_image.max() <= MAX_OBJECTS and per_image.max() >= 6

    def overlap(a, b):
        return (min(a[0] + a[2], b[0] + b[2]) > max(a[0], b[0]) and
                min(a[1] + a[3], b[1] + b[3]) > max(a[1], b[1]))
    boxes = {}
    for a in coco['annotations']:
        boxes.setdefault(a['image_id'], []).append(a['bbox'])
    assert any(overlap(a, b) for bs in boxes.values() for i, a in enumerate(bs) for b in bs[i + 1:])


def test_draw_shape_geometry():
    rng = np.random.default_rng(0)
    circle = draw_shape('circle', 64, rng)
    assert circle.sum() == pytest.approx(np.pi * 32 ** 2, rel=0.03)
    square = draw_shape('square', 64, rng)  # the diagonal is the size
    assert square.sum() == pytest.approx(64 ** 2 / 2, rel=0.05)
    ring = draw_shape('ring', 64, rng)
    c = ring.shape[0] // 2
    assert ring[c, c] == 0 and circle[c, c] == 1 and ring.sum() < 0.8 * circle.sum()
    for kind in SHAPES_CLASSES:  # any rotation fits the patch; the extent is the size
        for size in (8.0, 40.5, 97.3):
            mask = draw_shape(kind, size, rng)
            assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any()
                        or mask[:, -1].any()), kind
            ys, xs = np.nonzero(mask)
            assert size / 2 < max(np.ptp(xs), np.ptp(ys)) + 1 <= size + 1, (kind, size)
    with pytest.raises(ValueError, match='pentagon'):
        draw_shape('pentagon', 20, rng)


def test_occluded_objects_become_ignore_regions():
    """Heavily occluded objects are written as crowd (ignored) boxes; most objects are not."""
    noise = np.zeros((2 * NOISE_SIDE, 2 * NOISE_SIDE, 3), np.float32)
    objects = [o for i in range(40) for o in render_scene(np.random.default_rng(i), noise)[2]]
    crowd = [o for o in objects if o['iscrowd']]
    assert 0 < len(crowd) < 0.2 * len(objects)
    assert all(o['area'] >= MIN_VISIBLE_PIXELS for o in objects if not o['iscrowd'])


def test_shapes_exists_and_regeneration(tmp_path):
    out = str(tmp_path / 'shapes')
    assert not shapes_exists(out)
    generate_shapes(out, seed=1, num_train=5, num_val=2)
    assert shapes_exists(out) and shapes_exists(out, seed=1, num_train=5, num_val=2)
    assert not shapes_exists(out, seed=2) and not shapes_exists(out, num_train=4)
    generate_shapes(out, seed=1, num_train=3, num_val=2)  # fewer: stale files must go
    assert sorted(os.listdir(os.path.join(out, 'images/training'))) == \
        ['000000.jpg', '000001.jpg', '000002.jpg']
    os.remove(os.path.join(out, 'annotations/validation/000001.png'))
    assert not shapes_exists(out)


def test_cli_skips_an_existing_dataset(tmp_path, capsys):
    out = str(tmp_path / 'shapes')
    main(['--out', out, '--num-train', '2', '--num-val', '1', '--seed', '4'])
    stamp = os.path.getmtime(os.path.join(out, 'annotations/instances_train.json'))
    main(['--out', out, '--num-train', '2', '--num-val', '1', '--seed', '4', '--skip-existing'])
    assert 'skipping' in capsys.readouterr().out
    assert os.path.getmtime(os.path.join(out, 'annotations/instances_train.json')) == stamp
    assert shapes_exists(out, seed=4, num_train=2, num_val=1)


def test_ground_truth_as_detections_scores_perfect_ap(shapes_root):
    """COCOeval accepts the files; crowd regions neither help nor hurt a perfect detector."""
    gt = COCO(os.path.join(shapes_root, 'annotations/instances_train.json'))
    dets = [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'], score=1.0)
            for a in gt.loadAnns(gt.getAnnIds()) if not a['iscrowd']]
    evaluation = COCOeval(gt, gt.loadRes(dets), 'bbox')
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_canvas_scale_grows_the_canvas_and_keeps_the_object_sizes(tmp_path):
    """The resolution study's canvas val sets: sides x scale, objects from the default sizes."""
    import json
    default, big = str(tmp_path / 'default'), str(tmp_path / 'big')
    generate_shapes(default, seed=2, num_train=1, num_val=6)
    generate_shapes(big, seed=2, num_train=1, num_val=6, canvas_scale=2.0)
    assert shapes_exists(big, seed=2, canvas_scale=2.0) and not shapes_exists(big, seed=2)
    assert shapes_exists(default, seed=2) and not shapes_exists(default, canvas_scale=2.0)
    read = [json.load(open(os.path.join(d, 'annotations/instances_val.json')))
            for d in (default, big)]
    assert 'canvas_scale' not in read[0]['info'] and read[1]['info']['canvas_scale'] == 2.0
    for small_img, big_img in zip(read[0]['images'], read[1]['images']):
        assert (big_img['height'], big_img['width']) == (2 * small_img['height'],
                                                         2 * small_img['width'])
    limit = max(min(i['height'], i['width']) for i in read[0]['images']) / 2 + 3
    sides = [max(a['bbox'][2:]) for a in read[1]['annotations']]
    assert sides and max(sides) <= limit  # objects are not scaled with the canvas


def test_default_canvas_is_byte_identical_to_canvas_scale_one(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    generate_shapes(a, seed=7, num_train=1, num_val=2)
    generate_shapes(b, seed=7, num_train=1, num_val=2, canvas_scale=1.0)
    for sub in ('val/000001.jpg', 'annotations/instances_val.json', 'shapes_meta.json'):
        assert open(os.path.join(a, sub), 'rb').read() == open(os.path.join(b, sub), 'rb').read()


def test_canvas_scale_keeps_the_object_density(tmp_path):
    import json
    counts = {}
    for scale in (1.0, 2.0):
        out = str(tmp_path / f's{scale}')
        generate_shapes(out, seed=5, num_train=1, num_val=40, canvas_scale=scale)
        with open(os.path.join(out, 'annotations/instances_val.json')) as f:
            counts[scale] = len(json.load(f)['annotations'])
    assert 2.5 * counts[1.0] < counts[2.0] < 6 * counts[1.0]  # ~4x the objects on 4x the area

"""tools/infer.py on shapes scenes and real photographs: drawings at the image's size, JSONs
with the promised fields, boxes in original-image pixels, clear errors for bad files."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from tool_helpers import assert_png, tool


def run(config: str, checkpoint: str, inputs: list[str], out: Path, *extra: str) -> list[dict]:
    return tool('infer').main([config, checkpoint, *inputs, '--out-dir', str(out), *extra])


def test_detector_on_a_folder_and_photographs(tiny_configs, tiny_checkpoints, shapes_root,
                                              photographs, tmp_path):
    records = run(tiny_configs['det'], tiny_checkpoints['det'],
                  [str(shapes_root / 'val'), *photographs], tmp_path, '--score-thr', '0')
    assert len(records) == 3 + len(photographs)  # the folder expanded to its 3 images
    for record in records:
        img = cv2.imread(record['image'], cv2.IMREAD_COLOR)
        stem = Path(record['image']).stem
        saved = json.loads((tmp_path / 'preds' / f'{stem}.json').read_text())
        assert saved == record
        assert (record['height'], record['width']) == img.shape[:2]
        n = len(record['bboxes'])
        assert n > 0 and len(record['labels']) == len(record['scores']) == n
        boxes = np.asarray(record['bboxes'])
        assert (boxes[:, 2] >= boxes[:, 0]).all() and (boxes[:, 3] >= boxes[:, 1]).all()
        assert (boxes >= 0).all() and (boxes[:, 0::2] <= img.shape[1]).all()
        assert (boxes[:, 1::2] <= img.shape[0]).all()
        classes = ('circle', 'square', 'triangle', 'star', 'hexagon', 'cross', 'ring', 'crescent')
        assert record['class_names'] == [classes[i] for i in record['labels']]
        drawn = assert_png(record['vis'], img.shape[:2])
        assert (drawn != img).any(axis=-1).mean() > 0.001  # boxes drawn at score-thr 0
    assert sorted(p.name for p in (tmp_path / 'vis').iterdir()) == sorted(
        f"{Path(r['image']).stem}.png" for r in records)


def test_score_threshold_chooses_what_is_drawn(tiny_configs, tiny_checkpoints, photographs,
                                               tmp_path):
    (record, ) = run(tiny_configs['det'], tiny_checkpoints['det'], photographs[:1], tmp_path,
                     '--score-thr', '1.01')
    assert len(record['bboxes']) > 0  # the JSON keeps every box
    img = cv2.imread(record['image'], cv2.IMREAD_COLOR)
    assert (assert_png(record['vis']) == img).all()  # nothing scores 1.01


def test_segmentor_on_photographs(tiny_configs, tiny_checkpoints, photographs, shapes_root,
                                  tmp_path):
    inputs = [*photographs, str(shapes_root / 'val' / sorted(
        p.name for p in (shapes_root / 'val').iterdir())[0])]
    records = run(tiny_configs['seg'], tiny_checkpoints['seg'], inputs, tmp_path)
    for record in records:
        img = cv2.imread(record['image'], cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        label = cv2.imread(record['label_png'], cv2.IMREAD_UNCHANGED)
        assert label.shape == (h, w) and label.dtype == np.uint8
        assert record['classes'][0] == 'background' and len(record['classes']) == 9
        values, counts = np.unique(label, return_counts=True)
        assert record['pixel_counts'] == {record['classes'][v]: int(c)
                                          for v, c in zip(values, counts)}
        assert sum(record['pixel_counts'].values()) == h * w
        drawn = assert_png(record['vis'], (h, w))
        coloured = (label != 0)
        if coloured.mean() > 0.01:  # objects are blended, background keeps the image
            assert (drawn[coloured] != img[coloured]).any(axis=-1).mean() > 0.5
        legend = drawn[:12, :30] != img[:12, :30]  # top-left corner: the legend's first line
        assert legend.any() == bool(set(values) - {0})


def test_unreadable_and_missing_inputs_are_named(tiny_configs, tiny_checkpoints, tmp_path):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not a JPEG at all')
    with pytest.raises(ValueError, match="Cannot read '.*broken.jpg' as an image"):
        run(tiny_configs['det'], tiny_checkpoints['det'], [str(broken)], tmp_path / 'out')
    with pytest.raises(FileNotFoundError, match='nowhere.jpg'):
        run(tiny_configs['det'], tiny_checkpoints['det'], [str(tmp_path / 'nowhere.jpg')],
            tmp_path / 'out')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match="Folder '.*empty' has no images"):
        run(tiny_configs['det'], tiny_checkpoints['det'], [str(tmp_path / 'empty')],
            tmp_path / 'out')

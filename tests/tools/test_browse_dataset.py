"""tools/analysis/browse_dataset.py: the image after the pipeline with its ground truth drawn
(val split: checked pixel by pixel against the resized file), augmentation seeded (train)."""
from pathlib import Path

import cv2
import numpy as np
from mmengine.config import Config
from tool_helpers import assert_png, tool


def config_test_side(config: str) -> int:
    """The long side the config's test pipeline resizes to."""
    pipeline = Config.fromfile(config).test_dataloader.dataset.pipeline
    return max(next(t.scale for t in pipeline if t.type == 'Resize'))


def resized_like_the_test_pipeline(path: str, side: int, labels: bool = False) -> np.ndarray:
    """The file as the shapes test pipeline gives it: Resize to fit side x side, keeping
    aspect."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED if labels else cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    scale = side / max(h, w)
    size = (int(w * scale + 0.5), int(h * scale + 0.5))
    return cv2.resize(img, size, interpolation=cv2.INTER_NEAREST if labels else
                      cv2.INTER_LINEAR)


def test_detection_val_boxes_on_the_resized_image(tiny_configs, shapes_root, tmp_path):
    written = tool('browse_dataset').main([tiny_configs['det'], '--split', 'val', '--num', '5',
                                           '--out-dir', str(tmp_path)])
    assert len(written) == 3  # the whole val split
    for path in written:
        source = shapes_root / 'val' / (Path(path).stem.split('_', 1)[1] + '.jpg')
        side = config_test_side(tiny_configs['det'])
        expected = resized_like_the_test_pipeline(str(source), side)
        drawn = assert_png(path, expected.shape[:2])
        changed = (np.abs(drawn.astype(int) - expected).max(axis=-1) > 40).mean()
        assert 0.002 < changed < 0.3  # box outlines and captions, on the same image


def test_segmentation_val_colours_objects_not_background(tiny_configs, shapes_root, tmp_path):
    written = tool('browse_dataset').main([tiny_configs['seg'], '--split', 'val', '--num', '2',
                                           '--out-dir', str(tmp_path)])
    assert len(written) == 2
    side = config_test_side(tiny_configs['seg'])
    for path in written:
        stem = Path(path).stem.split('_', 1)[1]
        img = resized_like_the_test_pipeline(str(shapes_root / 'images/validation' /
                                                 f'{stem}.jpg'), side)
        label = resized_like_the_test_pipeline(
            str(shapes_root / 'annotations/validation' / f'{stem}.png'), side, labels=True)
        drawn = assert_png(path, img.shape[:2])
        changed = np.abs(drawn.astype(int) - img).max(axis=-1) > 2
        legend = 4 + 16 * len(set(np.unique(label)) - {0, 255})  # a line per shape present
        changed[:legend, :80] = False
        label[:legend, :80] = 255
        assert changed[(label > 0) & (label < 255)].mean() > 0.9
        assert changed[label == 0].mean() < 0.01


def test_train_augmentation_is_seeded(tiny_configs, tmp_path):
    def browse(seed: int, out: str) -> list[np.ndarray]:
        paths = tool('browse_dataset').main([tiny_configs['det'], '--num', '4', '--seed',
                                             str(seed), '--out-dir', str(tmp_path / out)])
        assert len(paths) == 4
        return [assert_png(p) for p in paths]

    first, again, other = browse(0, 'a'), browse(0, 'b'), browse(1, 'c')
    assert all(img.shape[0] <= 320 and img.shape[1] <= 320 for img in first)  # RandomCrop
    assert all((a.shape == b.shape) and (a == b).all() for a, b in zip(first, again))
    assert any(a.shape != c.shape or (a != c).any() for a, c in zip(first, other))

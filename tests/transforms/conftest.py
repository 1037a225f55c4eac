"""A synthetic 61 x 93 sample whose label map and boxes describe the same two rectangles."""
import numpy as np
import pytest

H, W = 61, 93
# label value in the map == box label; boxes are the exact extents of the rectangles
RECTS = ((3, (20, 10, 50, 30)), (5, (60, 40, 90, 55)))


@pytest.fixture
def sample() -> dict:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    seg = np.zeros((H, W), np.uint8)
    for label, (x1, y1, x2, y2) in RECTS:
        seg[y1:y2, x1:x2] = label
    return dict(img=img, img_shape=(H, W), ori_shape=(H, W), img_path='a.jpg', img_id=7,
                gt_seg_map=seg, seg_fields=['gt_seg_map'],
                gt_bboxes=np.array([box for _, box in RECTS], np.float32),
                gt_bboxes_labels=np.array([label for label, _ in RECTS], np.int64),
                gt_ignore_flags=np.array([False, True]))


def region_boxes(seg: np.ndarray, labels) -> np.ndarray:
    """Extents [x1, y1, x2 + 1, y2 + 1] of each label's pixels: (N, 4)."""
    boxes = []
    for label in labels:
        ys, xs = np.nonzero(seg == label)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.array(boxes, np.float32).reshape(-1, 4)


@pytest.fixture
def boxes_of():
    """The ``region_boxes`` function, for tests (conftest modules are not importable)."""
    return region_boxes

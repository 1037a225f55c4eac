"""Confusion counts: detection as mmdet counts it (plus COCO's ignored boxes), pixels."""
import numpy as np

from vitdense.evaluation.confusion_matrix import (
    add_detections,
    add_segmentation,
    normalize_rows,
)


def test_detection_counts_match_mmdet_semantics():
    # 3 classes + background (index 3). Ground truth: a class-0 box, a class-1 box, a class-2
    # box that nothing finds.
    gt = [[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]]
    gt_labels = [0, 1, 2]
    pred = [[0, 0, 10, 10],      # class 0 on the class-0 box: true positive
            [0, 0, 10, 9],       # class 1 on the class-0 box (IoU 0.9): confusion 0 -> 1
            [20, 20, 30, 30],    # class 1 on the class-1 box: true positive
            [70, 70, 80, 80],    # class 2 on nothing: background false positive
            [20, 20, 30, 30],    # class 0 but scores under the threshold: left out
            [90, 90, 99, 99]]    # class 1 on an ignored (crowd) box: not counted
    scores = [0.9, 0.8, 0.7, 0.6, 0.1, 0.9]
    labels = [0, 1, 1, 2, 0, 1]
    matrix = np.zeros((4, 4), dtype=np.int64)
    add_detections(matrix, gt, gt_labels, pred, scores, labels, score_thr=0.3, iou_thr=0.5,
                   ignored_bboxes=[[90, 90, 100, 100]])
    expected = np.array([[1, 1, 0, 0],
                         [0, 1, 0, 0],
                         [0, 0, 0, 1],    # the class-2 box missed: background column
                         [0, 0, 1, 0]])   # the class-2 prediction on nothing: background row
    np.testing.assert_array_equal(matrix, expected)
    # Without the ignored box, the prediction on it is a background false positive (mmdet).
    plain = np.zeros((4, 4), dtype=np.int64)
    add_detections(plain, gt, gt_labels, pred, scores, labels, 0.3, 0.5)
    assert plain[3, 1] == 1 and (plain - matrix).sum() == 1


def test_detection_of_an_image_without_boxes_or_predictions():
    matrix = np.zeros((3, 3), dtype=np.int64)
    add_detections(matrix, [], [], [], [], [])
    add_detections(matrix, [], [], [[0, 0, 5, 5]], [0.9], [1])
    add_detections(matrix, [[0, 0, 5, 5]], [0], [], [], [])
    np.testing.assert_array_equal(matrix, [[0, 0, 1], [0, 0, 0], [0, 1, 0]])


def test_segmentation_counts_every_labelled_pixel_once():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 4, (31, 47))
    gt[:3] = 255
    pred = rng.integers(0, 4, (31, 47))
    matrix = np.zeros((4, 4), dtype=np.int64)
    add_segmentation(matrix, gt, pred)
    expected = np.zeros((4, 4), dtype=np.int64)
    for g, p in zip(gt.ravel(), pred.ravel()):
        if g != 255:
            expected[g, p] += 1
    np.testing.assert_array_equal(matrix, expected)
    percent = normalize_rows(matrix)
    np.testing.assert_allclose(percent.sum(axis=1), 100.0)

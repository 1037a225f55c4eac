import pytest
import torch

from vitdense.models.utils import (
    aligned_giou,
    box_area,
    box_cxcywh_to_xyxy,
    box_iou,
    box_xyxy_to_cxcywh,
    generalized_box_iou,
    level_points,
)

A = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
B = torch.tensor([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 3.0, 1.0], [0.0, 0.0, 2.0, 2.0]])


def test_box_area_and_iou_hand_values():
    assert box_area(A).tolist() == [4.0, 1.0]
    expected = torch.tensor([[1 / 7, 0.0, 1.0],
                             [0.0, 0.0, 1 / 4]])  # [0,0,1,1] only touches [1,1,3,3]
    torch.testing.assert_close(box_iou(A, B), expected)


def test_generalized_box_iou_hand_values():
    # [0,0,2,2] vs [1,1,3,3]: IoU 1/7, enclosing 3x3, union 7.
    # [0,0,1,1] vs [2,0,3,1]: disjoint, enclosing 3x1, union 2.
    giou = generalized_box_iou(A, B)
    torch.testing.assert_close(giou[0, 0], torch.tensor(1 / 7 - 2 / 9))
    torch.testing.assert_close(giou[1, 1], torch.tensor(-1 / 3))
    torch.testing.assert_close(giou[0, 2], torch.tensor(1.0))
    assert giou.shape == (2, 3)
    assert (giou <= box_iou(A, B) + 1e-6).all()


def test_aligned_giou_is_the_diagonal_of_the_pairwise_one():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(17, 2, generator=g) * 50
    a = torch.cat([xy, xy + torch.rand(17, 2, generator=g) * 30 + 1], 1)
    xy = torch.rand(17, 2, generator=g) * 50
    b = torch.cat([xy, xy + torch.rand(17, 2, generator=g) * 30 + 1], 1)
    torch.testing.assert_close(aligned_giou(a, b), generalized_box_iou(a, b).diagonal())


def test_aligned_giou_degenerate_boxes_stay_finite():
    a = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert torch.isfinite(aligned_giou(a, a)).all()


def test_cxcywh_round_trip():
    boxes = torch.tensor([[1.0, 2.0, 5.0, 9.0]])
    assert box_xyxy_to_cxcywh(boxes).tolist() == [[3.0, 5.5, 4.0, 7.0]]
    torch.testing.assert_close(box_cxcywh_to_xyxy(box_xyxy_to_cxcywh(boxes)), boxes)


def test_level_points_are_cell_centres_in_row_major_order():
    pts = level_points([(2, 3), (1, 2)], [8, 16])
    assert [p.shape for p in pts] == [(6, 2), (2, 2)]
    assert pts[0][:4].tolist() == [[4, 4], [12, 4], [20, 4], [4, 12]]
    assert pts[1].tolist() == [[8, 8], [24, 8]]
    with pytest.raises(ValueError, match='one stride per level'):
        level_points([(2, 3)], [8, 16])

import pytest
import torch

from vitdense.models.utils import clip_boxes_, mean_over_ranks, nms_postprocess, rescale_boxes


def test_rescale_divides_by_the_scale_factor_and_clips_to_the_original_image():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 40.0], [-5.0, 0.0, 300.0, 50.0]])
    meta = dict(scale_factor=(0.5, 0.25), ori_shape=(100, 120))
    out = rescale_boxes(boxes, meta)
    torch.testing.assert_close(out, torch.tensor([[20.0, 80.0, 60.0, 100.0],
                                                  [0.0, 0.0, 120.0, 100.0]]))
    assert boxes[1, 0] == -5.0  # the input is left alone


def test_rescale_names_the_missing_key_and_the_caller():
    with pytest.raises(KeyError, match="MyHead.predict.*'ori_shape'"):
        rescale_boxes(torch.zeros(1, 4), dict(scale_factor=(1.0, 1.0)), owner='MyHead.predict')


def test_clip_is_in_place_and_uses_height_then_width():
    boxes = torch.tensor([[-1.0, -2.0, 50.0, 50.0]])
    assert clip_boxes_(boxes, (20, 40)) is boxes
    assert boxes.tolist() == [[0.0, 0.0, 40.0, 20.0]]


def test_nms_postprocess_suppresses_within_a_class_only():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 9.0], [0.0, 0.0, 10.0, 9.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    labels = torch.tensor([0, 0, 1])
    out = nms_postprocess(boxes, scores, labels, dict(img_shape=(8, 8)), rescale=False,
                          nms_iou_thr=0.5, max_per_img=10)
    assert out.labels.tolist() == [0, 1] and out.scores.tolist() == pytest.approx([0.9, 0.7])
    assert out.bboxes.max() == 8.0  # clipped to img_shape


def test_mean_over_ranks_is_a_detached_copy_in_one_process():
    value = torch.tensor(3.0, requires_grad=True)
    out = mean_over_ranks(value * 2)
    assert out.item() == 6.0 and not out.requires_grad

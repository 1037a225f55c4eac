import pytest
import torch

from vitdense.models.heads.det.detr import boxes_to_image, detr_postprocess, topk_queries

META = dict(img_shape=(61, 93), ori_shape=(122, 186), scale_factor=(0.5, 0.5))


def test_sigmoid_ranks_every_query_class_pair():
    logits = torch.full((3, 4), -5.0)
    logits[1, 2] = 3.0  # best: query 1, class 2
    logits[1, 0] = 2.0  # the same query again, class 0
    logits[2, 3] = 1.0
    scores, labels, query_idx = topk_queries(logits, 3, use_sigmoid=True)
    assert labels.tolist() == [2, 0, 3] and query_idx.tolist() == [1, 1, 2]
    torch.testing.assert_close(scores, torch.tensor([3.0, 2.0, 1.0]).sigmoid())


def test_softmax_scores_each_query_by_its_best_real_class():
    logits = torch.tensor([[0.0, 1.0, 9.0],    # mostly no-object: still scored by class 1
                           [4.0, 0.0, 0.0],
                           [0.0, 2.0, 0.0]])
    scores, labels, query_idx = topk_queries(logits, 10, use_sigmoid=False)
    probs = logits.softmax(-1)
    assert query_idx.tolist() == [1, 2, 0] and labels.tolist() == [0, 1, 1]
    torch.testing.assert_close(scores, probs[[1, 2, 0], [0, 1, 1]])
    assert (labels < 2).all()  # never the no-object class


def test_boxes_to_input_and_original_pixels():
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.4], [0.95, 0.1, 0.3, 0.4]])  # the second overflows
    width, height = 93, 61
    inside = torch.tensor([0.4 * width, 0.3 * height, 0.6 * width, 0.7 * height])
    clipped = torch.tensor([0.8 * width, 0.0, float(width), 0.3 * height])
    expected = torch.stack((inside, clipped))
    torch.testing.assert_close(boxes_to_image(boxes, META, rescale=False), expected)
    torch.testing.assert_close(boxes_to_image(boxes, META, rescale=True), expected * 2)


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_postprocess_returns_instances_sorted_and_capped(use_sigmoid):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 3 + (not use_sigmoid), generator=g)
    boxes = torch.rand(2, 5, 4, generator=g) * 0.5 + 0.25
    results = detr_postprocess(logits, boxes, [META, META], use_sigmoid, max_per_img=4)
    for result in results:
        assert result.bboxes.shape == (4, 4) and result.scores.shape == result.labels.shape == (4,)
        assert torch.equal(result.scores, result.scores.sort(descending=True).values)
        assert (result.bboxes[:, 2:] <= torch.tensor([186.0, 122.0])).all()
    many = detr_postprocess(logits, boxes, [META, META], use_sigmoid, max_per_img=100)
    assert len(many[0]) == (5 * 3 if use_sigmoid else 5)  # all candidates, no more


def test_missing_metainfo_is_named():
    logits, boxes = torch.randn(1, 2, 3), torch.rand(1, 2, 4)
    with pytest.raises(KeyError, match="'img_shape'"):
        detr_postprocess(logits, boxes, [dict(ori_shape=(10, 10))], use_sigmoid=True)
    with pytest.raises(KeyError, match="'scale_factor'"):
        detr_postprocess(logits, boxes, [dict(img_shape=(10, 10), ori_shape=(10, 10))],
                         use_sigmoid=True, rescale=True)

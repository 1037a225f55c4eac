import itertools
import re

import pytest
import torch

from vitdense.models.heads.det.detr import HungarianMatcher
from vitdense.models.utils import box_cxcywh_to_xyxy, generalized_box_iou
from vitdense.registry import TASK_UTILS

COSTS = dict(cost_class=2.0, cost_bbox=5.0, cost_giou=2.0)


def random_boxes(n: int, g: torch.Generator) -> torch.Tensor:
    """(n, 4) valid normalised cxcywh boxes."""
    center = torch.rand(n, 2, generator=g) * 0.6 + 0.2
    size = torch.rand(n, 2, generator=g) * 0.3 + 0.05
    return torch.cat((center, size), dim=-1)


def random_problem(sizes, num_queries=6, num_classes=4, cost_type='focal', seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(len(sizes), num_queries, num_classes + (cost_type == 'ce'), generator=g)
    boxes = torch.stack([random_boxes(num_queries, g) for _ in sizes])
    targets = [dict(labels=torch.randint(0, num_classes, (n,), generator=g),
                    boxes=random_boxes(n, g)) for n in sizes]
    return logits, boxes, targets


def reference_cost(logits, boxes, labels, tgt_boxes, cost_type, weights=COSTS):
    """Cost matrix written out from the papers' formulas, in float64: (Q, C), (Q, 4) -> (Q, N)."""
    logits, boxes, tgt_boxes = logits.double(), boxes.double(), tgt_boxes.double()
    if cost_type == 'ce':
        cls = -logits.softmax(-1)[:, labels]
    else:
        p = logits.sigmoid()[:, labels]
        cls = (0.25 * (1 - p) ** 2 * -torch.log(p + 1e-8)
               - 0.75 * p ** 2 * -torch.log(1 - p + 1e-8))
    l1 = (boxes[:, None, :] - tgt_boxes[None, :, :]).abs().sum(-1)
    giou = generalized_box_iou(box_cxcywh_to_xyxy(boxes), box_cxcywh_to_xyxy(tgt_boxes))
    return weights['cost_class'] * cls + weights['cost_bbox'] * l1 - weights['cost_giou'] * giou


def brute_force_min(cost: torch.Tensor) -> float:
    """Least total cost over every one-to-one assignment of min(Q, N) pairs."""
    num_queries, num_targets = cost.shape
    if num_targets <= num_queries:
        return min(sum(cost[q, t] for t, q in enumerate(qs)).item()
                   for qs in itertools.permutations(range(num_queries), num_targets))
    return min(sum(cost[q, t] for q, t in enumerate(ts)).item()
               for ts in itertools.permutations(range(num_targets), num_queries))


@pytest.mark.parametrize('cost_type', ['focal', 'ce'])
def test_batched_matching_equals_per_image(cost_type):
    matcher = HungarianMatcher(**COSTS, class_cost_type=cost_type)
    logits, boxes, targets = random_problem([3, 0, 5, 1], num_queries=7, cost_type=cost_type)
    batched = matcher(logits, boxes, targets)
    assert len(batched) == 4
    for b, (q, t) in enumerate(batched):
        single_q, single_t = matcher(logits[b:b + 1], boxes[b:b + 1], targets[b:b + 1])[0]
        assert torch.equal(q, single_q) and torch.equal(t, single_t)
        assert q.dtype == t.dtype == torch.int64
        assert len(q) == len(targets[b]['labels'])
        assert torch.equal(q, q.sort().values)  # sorted by query index
        assert len(set(q.tolist())) == len(q) and sorted(t.tolist()) == list(range(len(t)))


@pytest.mark.parametrize('sizes', [[0, 0], [0, 2, 0]])
def test_empty_targets_give_empty_indices(sizes):
    matcher = HungarianMatcher(**COSTS)
    logits, boxes, targets = random_problem(sizes)
    matches = matcher(logits, boxes, targets)
    for n, (q, t) in zip(sizes, matches):
        assert len(q) == len(t) == n
        assert q.dtype == t.dtype == torch.int64


@pytest.mark.parametrize('cost_type', ['focal', 'ce'])
def test_optimal_against_brute_force(cost_type):
    matcher = HungarianMatcher(**COSTS, class_cost_type=cost_type)
    for seed in range(40):
        g = torch.Generator().manual_seed(1000 + seed)
        num_queries = int(torch.randint(1, 6, (1,), generator=g))
        num_targets = int(torch.randint(1, 4, (1,), generator=g))
        logits, boxes, targets = random_problem([num_targets], num_queries, cost_type=cost_type,
                                                seed=seed)
        cost = reference_cost(logits[0], boxes[0], targets[0]['labels'], targets[0]['boxes'],
                              cost_type)
        # The matcher's float32 cost matrix is the formula's, to float32 rounding.
        torch.testing.assert_close(
            matcher.cost_matrix(logits[0], boxes[0], targets[0]['labels'], targets[0]['boxes']),
            cost.float(), rtol=1e-5, atol=1e-5)
        q, t = matcher(logits, boxes, targets)[0]
        assert len(q) == min(num_queries, num_targets)
        total = cost[q, t].sum().item()
        assert total == pytest.approx(brute_force_min(cost), abs=1e-5)


def test_ties_are_deterministic_and_prefer_low_query_indices():
    matcher = HungarianMatcher(**COSTS)
    # Six identical queries, two targets: every assignment of two distinct queries costs the same.
    logits = torch.zeros(1, 6, 3)
    boxes = torch.tensor([0.5, 0.5, 0.2, 0.2]).repeat(1, 6, 1)
    targets = [dict(labels=torch.tensor([1, 2]),
                    boxes=torch.tensor([[0.3, 0.3, 0.1, 0.1], [0.7, 0.7, 0.1, 0.1]]))]
    first = matcher(logits, boxes, targets)[0]
    assert first[0].tolist() == [0, 1]
    for _ in range(3):
        again = matcher(logits, boxes, targets)[0]
        assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])
    # The same tie inside a batch resolves the same way.
    batched = matcher(logits.repeat(3, 1, 1), boxes.repeat(3, 1, 1), targets * 3)
    for q, t in batched:
        assert torch.equal(q, first[0]) and torch.equal(t, first[1])


@pytest.mark.parametrize('cost_type', ['focal', 'ce'])
def test_class_cost_alone_picks_the_most_confident_query(cost_type):
    matcher = HungarianMatcher(cost_class=1.0, cost_bbox=0.0, cost_giou=0.0,
                               class_cost_type=cost_type)
    logits = torch.zeros(1, 4, 3 + (cost_type == 'ce'))
    logits[0, 2, 1] = 4.0  # query 2 is sure of class 1
    logits[0, 0, 0] = 3.0  # query 0 is fairly sure of class 0
    boxes = torch.full((1, 4, 4), 0.5)
    targets = [dict(labels=torch.tensor([1, 0]), boxes=torch.full((2, 4), 0.5))]
    q, t = matcher(logits, boxes, targets)[0]
    assert q.tolist() == [0, 2] and t.tolist() == [1, 0]


def test_focal_and_ce_class_costs_hand_values():
    logits = torch.tensor([[0.0, 2.0]])
    labels = torch.tensor([1])
    p = torch.sigmoid(torch.tensor(2.0))
    focal = 0.25 * (1 - p) ** 2 * -torch.log(p + 1e-8) - 0.75 * p ** 2 * -torch.log(1 - p + 1e-8)
    torch.testing.assert_close(HungarianMatcher().class_cost(logits, labels), focal.view(1, 1))
    ce = -torch.softmax(logits, -1)[0, 1]
    torch.testing.assert_close(HungarianMatcher(class_cost_type='ce').class_cost(logits, labels),
                               ce.view(1, 1))


@pytest.mark.parametrize('cost_type', ['focal', 'ce'])
def test_matching_equals_huggingface(cost_type):
    loss_od = pytest.importorskip('transformers.loss.loss_for_object_detection')
    loss_deform = pytest.importorskip('transformers.loss.loss_deformable_detr')
    hf_class = (loss_deform.DeformableDetrHungarianMatcher if cost_type == 'focal'
                else loss_od.HungarianMatcher)
    hf = hf_class(class_cost=2.0, bbox_cost=5.0, giou_cost=2.0)
    matcher = TASK_UTILS.build(dict(type='HungarianMatcher', **COSTS, class_cost_type=cost_type))
    logits, boxes, targets = random_problem([4, 0, 7, 2], num_queries=9, num_classes=5,
                                            cost_type=cost_type, seed=3)
    ours = matcher(logits, boxes, targets)
    theirs = hf(dict(logits=logits, pred_boxes=boxes),
                [dict(class_labels=t['labels'], boxes=t['boxes']) for t in targets])
    for (q, t), (hq, ht) in zip(ours, theirs):
        assert torch.equal(q, hq) and torch.equal(t, ht)


def test_more_targets_than_queries_matches_every_query():
    matcher = HungarianMatcher(**COSTS)
    logits, boxes, targets = random_problem([5], num_queries=3)
    q, t = matcher(logits, boxes, targets)[0]
    assert q.tolist() == [0, 1, 2] and len(set(t.tolist())) == 3


@pytest.mark.parametrize('bad, costs, term', [
    ('logits', COSTS, 'class'),
    ('boxes', COSTS, 'bbox (L1)'),
    ('boxes', dict(COSTS, cost_bbox=0.0), 'giou'),
])
def test_non_finite_cost_names_the_term(bad, costs, term):
    matcher = HungarianMatcher(**costs)
    logits, boxes, targets = random_problem([2])
    if bad == 'logits':
        logits[0, 1, 0] = float('nan')
    else:
        boxes[0, 1, 2] = float('inf')
    with pytest.raises(ValueError, match=re.escape(f'the {term} cost has')):
        matcher(logits, boxes, targets)


def test_bad_configs_and_targets_raise():
    with pytest.raises(ValueError, match='class_cost_type'):
        HungarianMatcher(class_cost_type='bce')
    with pytest.raises(ValueError, match='all 0'):
        HungarianMatcher(cost_class=0, cost_bbox=0, cost_giou=0)
    logits, boxes, targets = random_problem([2], num_classes=4)
    with pytest.raises(KeyError, match="'labels'"):
        HungarianMatcher()(logits, boxes, [dict(boxes=targets[0]['boxes'])])
    targets[0]['labels'][0] = 4  # == K: out of range for sigmoid logits
    with pytest.raises(ValueError, match='labels lie in'):
        HungarianMatcher()(logits, boxes, targets)
    ce_logits = torch.randn(1, 6, 5)  # K + 1 = 5: label 4 is the no-object class
    with pytest.raises(ValueError, match='labels lie in'):
        HungarianMatcher(class_cost_type='ce')(ce_logits, boxes, targets)

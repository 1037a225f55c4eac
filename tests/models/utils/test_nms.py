import numpy as np
import pytest
import torch

from vitdense.models.utils import batched_nms, nms


def reference_nms(boxes: torch.Tensor, scores: torch.Tensor, thr: float) -> list[int]:
    """The obvious greedy NMS, box by box, with torchvision's float32 formula."""
    b = boxes.numpy().astype(np.float32)
    order = sorted(range(len(b)), key=lambda i: (-float(scores[i]), i))
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    suppressed, keep = [False] * len(b), []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[pos + 1:]:
            w = max(np.float32(0), min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
            h = max(np.float32(0), min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
            inter = w * h
            with np.errstate(invalid='ignore', divide='ignore'):
                iou = inter / (area[i] + area[j] - inter)
            if iou > thr:
                suppressed[j] = True
    return keep


def random_boxes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes with exact duplicates, zero-area boxes and tied scores."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 40 + 1], 1)
    dup = torch.randint(0, n, (n // 5,), generator=g)
    boxes[torch.randint(0, n, (n // 5,), generator=g)] = boxes[dup]
    boxes[:3, 2:] = boxes[:3, :2]  # zero area
    scores = torch.randint(0, 8, (n,), generator=g).float() / 8  # many ties
    return boxes, scores


@pytest.mark.parametrize('n', [1, 7, 60, 300])
@pytest.mark.parametrize('thr', [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_equals_reference_greedy(n, thr):
    boxes, scores = random_boxes(n, seed=n)
    assert nms(boxes, scores, thr).tolist() == reference_nms(boxes, scores, thr)


def test_nms_chain_across_blocks():
    # Each box overlaps only its neighbours, so decisions propagate along the whole chain (and
    # across the 128-box blocks): greedy keeps every other box.
    x = torch.arange(400, dtype=torch.float) * 6
    boxes = torch.stack([x, torch.zeros_like(x), x + 10, torch.ones_like(x) * 10], 1)
    scores = torch.linspace(1, 0, 400)
    kept = nms(boxes, scores, 0.2)
    assert kept.tolist() == reference_nms(boxes, scores, 0.2)
    assert kept.tolist() == list(range(0, 400, 2))


def test_batched_nms_equals_per_class_nms_merged():
    boxes, scores = random_boxes(250, seed=3)
    idxs = torch.randint(0, 5, (250,), generator=torch.Generator().manual_seed(4))
    merged = []
    for c in range(5):
        members = torch.nonzero(idxs == c).squeeze(1)
        merged += members[nms(boxes[members], scores[members], 0.5)].tolist()
    merged.sort(key=lambda i: (-float(scores[i]), i))
    assert batched_nms(boxes, scores, idxs, 0.5).tolist() == merged
    # One category: the same as plain NMS.
    same = torch.zeros(250, dtype=torch.long)
    assert torch.equal(batched_nms(boxes, scores, same, 0.5), nms(boxes, scores, 0.5))


def test_nms_empty_input():
    empty = torch.zeros(0, 4)
    assert nms(empty, torch.zeros(0), 0.5).shape == (0,)
    out = batched_nms(empty, torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5)
    assert out.shape == (0,) and out.dtype == torch.long

import datetime
import math

import pytest
import torch
from mmengine.structures import InstanceData

import vitdense.models.heads.det.fcos_assigner as assigner_module
from vitdense.models.heads.det import FCOSHead
from vitdense.models.utils import box_iou, level_points
from vitdense.registry import MODELS
from vitdense.structures import DetDataSample, ShapeSpec

STRIDES = (8, 16, 32, 64)
SHAPES = {f'p{int(math.log2(s))}': ShapeSpec(32, s) for s in STRIDES}
PAD = (64, 96)  # a 61 x 93 image padded to a multiple of 32


def make_head(**kwargs) -> FCOSHead:
    torch.manual_seed(0)
    cfg = dict(type='FCOSHead', num_classes=3, feat_channels=32, stacked_convs=2, **kwargs)
    return MODELS.build(cfg, default_args=dict(input_shape=SHAPES))


def make_feats(batch: int = 2, pad=PAD, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(batch, 32, -(-pad[0] // s.stride), -(-pad[1] // s.stride),
                           generator=g) for k, s in SHAPES.items()}


def make_sample(boxes, labels, img_shape=(61, 93), scale=(0.5, 0.4)) -> DetDataSample:
    ori = (round(img_shape[0] / scale[1]), round(img_shape[1] / scale[0]))
    sample = DetDataSample(metainfo=dict(img_shape=img_shape, pad_shape=PAD, ori_shape=ori,
                                         scale_factor=scale))
    sample.gt_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float).view(-1, 4),
                                       labels=torch.tensor(labels, dtype=torch.long))
    return sample


TWO_BOXES = ([[8.0, 10.0, 40.0, 50.0], [50.0, 18.0, 88.0, 58.0]], [0, 2])


def test_forward_shapes_on_padded_odd_image():
    head = make_head()
    cls_scores, bbox_preds, centernesses = head(make_feats())
    sizes = [(8, 12), (4, 6), (2, 3), (1, 2)]
    assert [tuple(t.shape) for t in cls_scores] == [(2, 3, *s) for s in sizes]
    assert [tuple(t.shape) for t in bbox_preds] == [(2, 4, *s) for s in sizes]
    assert [tuple(t.shape) for t in centernesses] == [(2, 1, *s) for s in sizes]
    assert all((b >= 0).all() for b in bbox_preds)
    # Prior init: every class starts at probability 0.01.
    bias = head.conv_cls.bias
    torch.testing.assert_close(bias.sigmoid(), torch.full_like(bias, 0.01))


def test_default_regress_ranges_follow_mmdet():
    assert make_head().regress_ranges == [(-1, 64), (64, 128), (128, 256), (256, 1e8)]


def test_loss_is_finite_and_reaches_every_parameter():
    head = make_head()
    samples = [make_sample(*TWO_BOXES), make_sample([[20.0, 5.0, 60.0, 30.0]], [1])]
    losses = head.loss(make_feats(), samples)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_centerness'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        if name != 'scales':  # levels without positives give their scale a zero gradient
            assert param.grad.abs().sum() > 0, name
    assert head.scales.grad[0] != 0  # the small boxes are positives on p3


def test_empty_ground_truth_gives_zero_box_and_centerness_loss():
    head = make_head()
    samples = [make_sample([], []), make_sample([], [])]
    losses = head.loss(make_feats(), samples)
    assert losses['loss_bbox'] == 0 and losses['loss_centerness'] == 0
    assert torch.isfinite(losses['loss_cls']) and losses['loss_cls'] > 0
    sum(losses.values()).backward()
    assert head.conv_cls.weight.grad.abs().sum() > 0


def target_points(pad=(190, 250)) -> list[torch.Tensor]:
    return level_points([(-(-pad[0] // s), -(-pad[1] // s)) for s in STRIDES], STRIDES)


def test_targets_put_a_box_on_the_level_its_size_falls_into():
    head = make_head()
    points = target_points()
    counts = [len(p) for p in points]
    # A ~150 px box: side distances near its centre are 64-128 px, i.e. level p4 only.
    # A 24 x 20 box: distances below 64 px, level p3 only.
    sample = make_sample([[20.0, 20.0, 180.0, 170.0], [200.0, 150.0, 224.0, 170.0]], [1, 2])
    labels, targets = head.get_targets(points, [sample])
    per_level = torch.split(labels[0], counts)
    assert set(per_level[0].unique().tolist()) == {2, 3}  # small box and background
    assert set(per_level[1].unique().tolist()) == {1, 3}  # large box and background
    assert (per_level[2] == 3).all() and (per_level[3] == 3).all()
    # Centre sampling: positives lie within 1.5 strides of the box centre; distances are in
    # strides and give back the box.
    pos = torch.nonzero(labels[0] == 1).squeeze(1)
    pts = torch.cat(points)[pos]
    assert ((pts - torch.tensor([100.0, 95.0])).abs() < 1.5 * 16).all()
    boxes = torch.cat([pts - 16 * targets[0, pos, :2], pts + 16 * targets[0, pos, 2:]], 1)
    torch.testing.assert_close(boxes, torch.tensor([[20.0, 20.0, 180.0, 170.0]]).expand_as(boxes))
    assert (targets[0][labels[0] == 3] == 0).all()


def test_targets_prefer_the_smaller_box_and_skip_regions_outside_the_range():
    head = make_head(center_sampling=False)
    points = target_points()
    small, big = [90.0, 80.0, 110.0, 100.0], [60.0, 60.0, 140.0, 120.0]
    labels, _ = head.get_targets(points, [make_sample([big, small], [0, 1])])
    p3 = labels[0, :len(points[0])]
    inside_small = ((points[0] > torch.tensor([90.0, 80.0]))
                    & (points[0] < torch.tensor([110.0, 100.0]))).all(1)
    assert inside_small.any() and (p3[inside_small] == 1).all()
    assert (p3 == 0).any()  # the big box keeps the p3 points outside the small one


def test_batched_targets_equal_per_image_targets(monkeypatch):
    head = make_head()
    points = target_points()
    samples = [make_sample(*TWO_BOXES), make_sample([], []),
               make_sample([[20.0, 20.0, 180.0, 170.0]], [1])]
    labels, targets = head.get_targets(points, samples)
    for i, sample in enumerate(samples):
        one_labels, one_targets = head.get_targets(points, [sample])
        assert torch.equal(labels[i], one_labels[0])
        torch.testing.assert_close(targets[i], one_targets[0])
    monkeypatch.setattr(assigner_module, 'TARGET_CHUNK', 1)  # one image at a time
    chunked = head.get_targets(points, samples)
    assert torch.equal(chunked[0], labels) and torch.equal(chunked[1], targets)


def crafted_outputs(head: FCOSHead, batch: int = 1):
    """All-background outputs, except one confident p3 point at cell (row 2, col 3)."""
    cls_scores, bbox_preds, centernesses = [], [], []
    for h, w in [(8, 12), (4, 6), (2, 3), (1, 2)]:
        cls_scores.append(torch.full((batch, 3, h, w), -10.0))
        bbox_preds.append(torch.ones(batch, 4, h, w))
        centernesses.append(torch.zeros(batch, 1, h, w))
    cls_scores[0][:, 1, 2, 3] = 3.0
    bbox_preds[0][:, :, 2, 3] = torch.tensor([1.0, 1.0, 2.0, 0.5])[None]
    return cls_scores, bbox_preds, centernesses


def test_predict_rescales_to_the_original_image():
    head = make_head()
    outputs = crafted_outputs(head)
    sample = make_sample([], [], scale=(0.5, 0.4))  # ori_shape (152, 186)
    # Point (3.5 * 8, 2.5 * 8) = (28, 20); distances in strides -> box [20, 12, 44, 24].
    (pred,) = head.predict_by_feat(*outputs, [sample], rescale=True)
    torch.testing.assert_close(pred.bboxes, torch.tensor([[40.0, 30.0, 88.0, 60.0]]))
    assert pred.labels.tolist() == [1]
    torch.testing.assert_close(pred.scores, torch.sigmoid(torch.tensor([3.0])) * 0.5)
    (raw,) = head.predict_by_feat(*outputs, [sample], rescale=False)
    torch.testing.assert_close(raw.bboxes, torch.tensor([[20.0, 12.0, 44.0, 24.0]]))
    # A box past the image border is clipped to the original image.
    outputs[1][0][:, 2, 2, 3] = 20.0
    (clipped,) = head.predict_by_feat(*outputs, [sample], rescale=True)
    assert clipped.bboxes[0, 2].item() == 186.0


def test_predict_keeps_at_most_max_per_img_in_original_coordinates():
    head = make_head(max_per_img=7)
    head.conv_cls.bias.data.fill_(4.0)  # every point and class above score_thr
    head.eval()
    samples = [make_sample([], [], scale=(0.5, 0.4)), make_sample([], [], scale=(1.0, 1.0))]
    with torch.no_grad():
        preds = head.predict(make_feats(), samples)
    for pred, sample in zip(preds, samples):
        assert 0 < len(pred) <= 7
        assert (pred.scores[:-1] >= pred.scores[1:]).all()
        h, w = sample.metainfo['ori_shape']
        assert (pred.bboxes >= 0).all()
        assert (pred.bboxes[:, 0::2] <= w).all() and (pred.bboxes[:, 1::2] <= h).all()
        assert pred.labels.dtype == torch.long and pred.labels.max() < 3


def test_predict_needs_scale_factor_to_rescale():
    head = make_head()
    sample = DetDataSample(metainfo=dict(img_shape=(61, 93)))
    with pytest.raises(KeyError, match='scale_factor'):
        head.predict_by_feat(*crafted_outputs(head), [sample], rescale=True)


def test_constructor_errors_name_the_problem():
    with pytest.raises(KeyError, match='p7'):
        FCOSHead(3, SHAPES, in_features=('p3', 'p7'), feat_channels=32)
    mixed = dict(SHAPES, p6=ShapeSpec(64, 64))
    with pytest.raises(ValueError, match='different channels'):
        FCOSHead(3, mixed, feat_channels=32)
    with pytest.raises(ValueError, match='regress_ranges'):
        FCOSHead(3, SHAPES, feat_channels=32, regress_ranges=((-1, 64), (64, 1e8)))
    with pytest.raises(ValueError, match='multiple of 32'):
        FCOSHead(3, SHAPES, feat_channels=48)


def test_overfits_two_boxes():
    head = make_head()
    feats = make_feats(batch=1, seed=1)
    sample = make_sample(*TWO_BOXES, scale=(1.0, 1.0))
    optim = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(80):
        optim.zero_grad()
        sum(head.loss(feats, [sample]).values()).backward()
        optim.step()
    head.eval()
    with torch.no_grad():
        (pred,) = head.predict(feats, [sample])
    # The two best detections are the two GT boxes, with their labels.
    top_boxes, top_labels = pred.bboxes[:2], pred.labels[:2]
    for box, label in zip(sample.gt_instances.bboxes, sample.gt_instances.labels):
        match = top_boxes[top_labels == label]
        assert len(match) == 1 and box_iou(match, box[None]).item() > 0.5


def _distributed_loss(rank: int, init_file: str, out_dir: str) -> None:
    torch.distributed.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                                         world_size=2, timeout=datetime.timedelta(seconds=60))
    torch.set_num_threads(1)
    head = make_head()
    sample = make_sample(*TWO_BOXES) if rank == 0 else make_sample([], [])
    losses = head.loss(make_feats(batch=1), [sample])
    sum(losses.values()).backward()  # rank 1 has no positives and must not hang the other
    torch.save({k: v.detach() for k, v in losses.items()}, f'{out_dir}/rank{rank}.pt')
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_distributed_loss_averages_the_positive_count(tmp_path):
    head = make_head()
    local = head.loss(make_feats(batch=1), [make_sample(*TWO_BOXES)])
    points = level_points([(8, 12), (4, 6), (2, 3), (1, 2)], STRIDES)
    labels, _ = head.get_targets(points, [make_sample(*TWO_BOXES)])
    num_pos = (labels < 3).sum().item()
    torch.multiprocessing.spawn(_distributed_loss, args=(str(tmp_path / 'init'), str(tmp_path)),
                                nprocs=2)
    rank0, rank1 = (torch.load(tmp_path / f'rank{r}.pt') for r in range(2))
    # avg_factor is the mean over ranks of the positive counts: (num_pos + 0) / 2.
    torch.testing.assert_close(rank0['loss_cls'], local['loss_cls'] * num_pos / (num_pos / 2))
    torch.testing.assert_close(rank0['loss_centerness'],
                               local['loss_centerness'] * num_pos / (num_pos / 2))
    # The centerness normaliser of the GIoU loss is averaged the same way.
    torch.testing.assert_close(rank0['loss_bbox'], local['loss_bbox'] * 2)
    assert rank1['loss_bbox'] == 0 and rank1['loss_centerness'] == 0


def test_losses_come_from_config():
    feats, samples = make_feats(batch=1), [make_sample(*TWO_BOXES)]
    base = make_head().loss(feats, samples)
    heavier = make_head(loss_bbox=dict(type='GIoULoss', loss_weight=3.0),
                        loss_cls=dict(type='FocalLoss', alpha=0.25, gamma=2.0, loss_weight=0.5))
    out = heavier.loss(feats, samples)
    torch.testing.assert_close(out['loss_bbox'], 3 * base['loss_bbox'])
    torch.testing.assert_close(out['loss_cls'], 0.5 * base['loss_cls'])
    torch.testing.assert_close(out['loss_centerness'], base['loss_centerness'])
    with pytest.raises(KeyError, match='FocalLos'):
        make_head(loss_cls=dict(type='FocalLos'))


def test_quality_focal_loss_trains_on_the_positives_iou():
    feats, samples = make_feats(batch=1), [make_sample(*TWO_BOXES)]
    head = make_head(loss_cls=dict(type='QualityFocalLoss', beta=2.0))
    seen = {}
    forward = head.loss_cls.forward

    def spy(pred, target, **kwargs):
        seen['target'] = target
        return forward(pred, target, **kwargs)

    head.loss_cls.forward = spy
    losses = head.loss(feats, samples)
    target = seen['target']
    cls_scores, bbox_preds, _ = head(feats)
    points = level_points([s.shape[-2:] for s in cls_scores], STRIDES)
    labels, bbox_targets = head.get_targets(points, samples)
    labels, bbox_targets = labels.reshape(-1), bbox_targets.reshape(-1, 4)
    flat_bbox = torch.cat([b.permute(0, 2, 3, 1).reshape(-1, 4) for b in bbox_preds])
    pos = torch.nonzero(labels < 3).squeeze(1)
    # Each positive's target is the IoU of its predicted box with its GT, at its class only.
    assert target.shape == (len(labels), 3) and pos.numel() > 0
    assert (target.sum(1)[labels == 3] == 0).all()
    for i in pos.tolist():
        d, t = flat_bbox[i].detach(), bbox_targets[i]
        pred_box = torch.cat((-d[:2], d[2:]))[None]
        gt_box = torch.cat((-t[:2], t[2:]))[None]
        assert target[i, labels[i]] == pytest.approx(box_iou(pred_box, gt_box).item(), abs=1e-5)
        assert target[i].sum() == pytest.approx(target[i, labels[i]].item(), abs=1e-7)
    # The target does not carry gradient into the box branch; the loss does reach the classifier.
    assert not target.requires_grad
    sum(losses.values()).backward()
    assert head.conv_cls.weight.grad.abs().sum() > 0

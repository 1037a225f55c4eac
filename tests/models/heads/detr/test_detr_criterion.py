"""SetCriterion against HuggingFace's DETR and Deformable DETR losses, and its own promises.

Tolerances: our losses and HF's are computed from the same float32 inputs by different but
equivalent float32 arithmetic (weighted mean vs. sum / avg_factor + 1.2e-7, GIoU with a 1e-6 area
floor that never binds on these boxes), so they agree to rtol = atol = 1e-5.
"""
import pytest
import torch

import vitdense.models.heads.det.detr.criterion as criterion_module
from vitdense.models.heads.det.detr import HungarianMatcher, SetCriterion
from vitdense.registry import MODELS

TOL = dict(rtol=1e-5, atol=1e-5)
NUM_CLASSES = 4
# HF defaults: class 1, bbox 5, giou 2 in the matcher; loss coefficients bbox 5, giou 2.
MATCH = dict(cost_class=1.0, cost_bbox=5.0, cost_giou=2.0)
DETR = dict(type='SetCriterion', num_classes=NUM_CLASSES,
            matcher=dict(type='HungarianMatcher', class_cost_type='ce', **MATCH),
            loss_cls=dict(type='CrossEntropyLoss', ignore_index=-100),
            loss_bbox=dict(type='L1Loss', loss_weight=5.0),
            loss_giou=dict(type='GIoULoss', loss_weight=2.0), eos_coef=0.1)
DEFORMABLE = dict(type='SetCriterion', num_classes=NUM_CLASSES,
                  matcher=dict(type='HungarianMatcher', class_cost_type='focal', **MATCH),
                  loss_cls=dict(type='FocalLoss', alpha=0.25, gamma=2.0),
                  loss_bbox=dict(type='L1Loss', loss_weight=5.0),
                  loss_giou=dict(type='GIoULoss', loss_weight=2.0))
NAMES = {'loss_ce': 'loss_cls', 'loss_bbox': 'loss_bbox', 'loss_giou': 'loss_giou'}
WEIGHTS = {'loss_cls': 1.0, 'loss_bbox': 5.0, 'loss_giou': 2.0}


def random_boxes(shape, g: torch.Generator) -> torch.Tensor:
    """(*shape, 4) valid normalised cxcywh boxes."""
    center = torch.rand(*shape, 2, generator=g) * 0.6 + 0.2
    size = torch.rand(*shape, 2, generator=g) * 0.3 + 0.05
    return torch.cat((center, size), dim=-1)


def random_outputs(num_logits, batch=3, queries=8, layers=3, seed=0):
    """Per-layer logits (L, B, Q, C) and boxes (L, B, Q, 4), leaves that require grad."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(layers, batch, queries, num_logits, generator=g).requires_grad_()
    boxes = random_boxes((layers, batch, queries), g).requires_grad_()
    return logits, boxes


def random_targets(sizes, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [dict(labels=torch.randint(0, NUM_CLASSES, (n,), generator=g),
                 boxes=random_boxes((n,), g)) for n in sizes]


def as_outputs(logits, boxes):
    """Our outputs dict from per-layer stacks: the last layer, earlier layers as aux_outputs."""
    aux = [dict(pred_logits=lg, pred_boxes=bx) for lg, bx in zip(logits[:-1], boxes[:-1])]
    return dict(pred_logits=logits[-1], pred_boxes=boxes[-1], aux_outputs=aux)


def hf_labels(targets):
    return [dict(class_labels=t['labels'], boxes=t['boxes']) for t in targets]


def assert_matches_hf(ours, hf_dict, layers):
    """Every HF loss (unweighted) equals ours divided by our loss_weight, layer by layer."""
    for hf_name, name in NAMES.items():
        torch.testing.assert_close(ours[name] / WEIGHTS[name], hf_dict[hf_name], **TOL)
        for i in range(layers - 1):
            torch.testing.assert_close(ours[f'd{i}.{name}'] / WEIGHTS[name],
                                       hf_dict[f'{hf_name}_{i}'], **TOL)


@pytest.mark.parametrize('sizes', [[3, 1, 5], [2, 0, 4]])
def test_detr_softmax_losses_equal_huggingface(sizes):
    transformers = pytest.importorskip('transformers')
    loss_od = pytest.importorskip('transformers.loss.loss_for_object_detection')
    config = transformers.DetrConfig(num_labels=NUM_CLASSES, use_timm_backbone=False,
                                     auxiliary_loss=True, decoder_layers=3, eos_coefficient=0.1)
    logits, boxes = random_outputs(NUM_CLASSES + 1)
    targets = random_targets(sizes)
    total, hf_dict, _ = loss_od.ForObjectDetectionLoss(
        logits[-1], hf_labels(targets), 'cpu', boxes[-1], config, logits, boxes)
    ours = MODELS.build(DETR)(as_outputs(logits, boxes), targets)
    assert sorted(ours) == sorted(f'{p}{n}' for p in ('', 'd0.', 'd1.') for n in WEIGHTS)
    assert_matches_hf(ours, hf_dict, layers=3)
    torch.testing.assert_close(sum(ours.values()), total, **TOL)
    # Gradients agree too (our loss weights are HF's coefficients).
    grads = torch.autograd.grad(sum(ours.values()), (logits, boxes))
    hf_grads = torch.autograd.grad(total, (logits, boxes))
    for ours_grad, hf_grad in zip(grads, hf_grads):
        torch.testing.assert_close(ours_grad, hf_grad, **TOL)


@pytest.mark.parametrize('sizes', [[3, 1, 5], [2, 0, 4]])
def test_deformable_focal_losses_equal_huggingface(sizes):
    transformers = pytest.importorskip('transformers')
    loss_deform = pytest.importorskip('transformers.loss.loss_deformable_detr')
    config = transformers.DeformableDetrConfig(num_labels=NUM_CLASSES, auxiliary_loss=True,
                                               decoder_layers=3, focal_alpha=0.25)
    logits, boxes = random_outputs(NUM_CLASSES)
    targets = random_targets(sizes)
    total, hf_dict, _ = loss_deform.DeformableDetrForObjectDetectionLoss(
        logits[-1], hf_labels(targets), 'cpu', boxes[-1], config, logits, boxes)
    ours = MODELS.build(DEFORMABLE)(as_outputs(logits, boxes), targets)
    assert_matches_hf(ours, hf_dict, layers=3)
    torch.testing.assert_close(sum(ours.values()), total, **TOL)


@pytest.mark.parametrize('cost_type', ['ce', 'focal'])
def test_matching_inside_the_criterion_equals_huggingface(cost_type):
    loss_od = pytest.importorskip('transformers.loss.loss_for_object_detection')
    loss_deform = pytest.importorskip('transformers.loss.loss_deformable_detr')
    hf_class = (loss_od.HungarianMatcher if cost_type == 'ce'
                else loss_deform.DeformableDetrHungarianMatcher)
    criterion = MODELS.build(DETR if cost_type == 'ce' else DEFORMABLE)
    logits, boxes = random_outputs(criterion.num_logits, seed=5)
    targets = random_targets([4, 0, 6])
    ours = criterion.matcher(logits[-1], boxes[-1], targets)
    theirs = hf_class(class_cost=1.0, bbox_cost=5.0, giou_cost=2.0)(
        dict(logits=logits[-1], pred_boxes=boxes[-1]), hf_labels(targets))
    for (q, t), (hq, ht) in zip(ours, theirs):
        assert torch.equal(q, hq) and torch.equal(t, ht)


def test_detr_model_loss_equals_huggingface_model():
    """The loss HF's DetrForObjectDetection reports for its own predictions, recomputed."""
    transformers = pytest.importorskip('transformers')
    torch.manual_seed(0)
    backbone = transformers.ResNetConfig(num_channels=3, embedding_size=16, hidden_sizes=[16, 32],
                                         depths=[1, 1], out_features=['stage2'],
                                         layer_type='basic')
    config = transformers.DetrConfig(
        use_timm_backbone=False, backbone_config=backbone, num_labels=NUM_CLASSES, d_model=32,
        encoder_layers=1, decoder_layers=3, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=7, auxiliary_loss=True,
        attn_implementation='eager')
    model = transformers.DetrForObjectDetection(config).eval()
    targets = random_targets([2, 3])
    out = model(pixel_values=torch.randn(2, 3, 61, 45), labels=hf_labels(targets))
    outputs = dict(pred_logits=out.logits, pred_boxes=out.pred_boxes,
                   aux_outputs=[dict(pred_logits=a['logits'], pred_boxes=a['pred_boxes'])
                                for a in out.auxiliary_outputs])
    ours = MODELS.build(DETR)(outputs, targets)
    assert_matches_hf(ours, out.loss_dict, layers=3)
    torch.testing.assert_close(sum(ours.values()), out.loss, **TOL)


@pytest.mark.parametrize('cfg', [DETR, DEFORMABLE], ids=['softmax', 'sigmoid'])
@pytest.mark.parametrize('sizes', [[0, 0], [0, 2]], ids=['all-empty', 'one-empty'])
def test_empty_ground_truth(cfg, sizes):
    criterion = MODELS.build(cfg)
    logits, boxes = random_outputs(criterion.num_logits, batch=2)
    targets = random_targets(sizes)
    losses = criterion(as_outputs(logits, boxes), targets)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_cls'] > 0 and losses['d0.loss_cls'] > 0
    sum(losses.values()).backward()
    assert torch.isfinite(boxes.grad).all() and torch.isfinite(logits.grad).all()
    if sum(sizes) == 0:
        for name in ('loss_bbox', 'loss_giou', 'd1.loss_bbox', 'd1.loss_giou'):
            assert losses[name].item() == 0.0 and losses[name].grad_fn is not None
        assert (boxes.grad == 0).all()  # connected to the graph, but no box gradient
    else:
        assert losses['loss_bbox'] > 0 and boxes.grad[-1, 1].abs().sum() > 0
        assert (boxes.grad[-1, 0] == 0).all()  # the image without targets gets no box gradient


def test_loss_by_indices_reuses_a_given_assignment():
    criterion = MODELS.build(DEFORMABLE)
    logits, boxes = random_outputs(NUM_CLASSES, batch=2, layers=1)
    targets = random_targets([2, 3])
    indices = criterion.matcher(logits[0], boxes[0], targets)
    num_boxes = criterion.num_boxes(targets, logits.device)
    assert num_boxes.item() == 5
    by_indices = criterion.loss_by_indices(logits[0], boxes[0], targets, indices, num_boxes)
    by_matching = criterion(dict(pred_logits=logits[0], pred_boxes=boxes[0]), targets)
    for name in WEIGHTS:
        torch.testing.assert_close(by_indices[name], by_matching[name])
    # A different (known, e.g. denoising) assignment gives different box losses.
    swapped = [(q.flip(0), t) for q, t in indices]
    other = criterion.loss_by_indices(logits[0], boxes[0], targets, swapped, num_boxes)
    assert not torch.allclose(other['loss_bbox'], by_indices['loss_bbox'])


def test_normalised_by_the_number_of_boxes_averaged_over_ranks(monkeypatch):
    criterion = MODELS.build(DEFORMABLE)
    logits, boxes = random_outputs(NUM_CLASSES, batch=2, layers=1)
    targets = random_targets([2, 3])
    outputs = dict(pred_logits=logits[0], pred_boxes=boxes[0])
    local = criterion(outputs, targets)
    # Another rank holding 15 boxes makes the mean 10: every term is divided by 10, not 5.
    monkeypatch.setattr(criterion_module, 'mean_over_ranks', lambda count: (count + 15) / 2)
    assert criterion.num_boxes(targets, logits.device).item() == 10
    averaged = criterion(outputs, targets)
    for name in WEIGHTS:
        torch.testing.assert_close(averaged[name], local[name] / 2, **TOL)
    monkeypatch.setattr(criterion_module, 'mean_over_ranks', lambda count: count * 0 + 0.25)
    assert criterion.num_boxes(targets, logits.device).item() == 1  # clamped


@pytest.mark.parametrize('agnostic', [False, True])
def test_two_stage_encoder_losses(agnostic):
    criterion = MODELS.build(dict(DEFORMABLE, enc_class_agnostic=agnostic))
    logits, boxes = random_outputs(NUM_CLASSES, batch=2, layers=2)
    targets = random_targets([3, 2])
    outputs = dict(pred_logits=logits[1], pred_boxes=boxes[1],
                   enc_outputs=dict(pred_logits=logits[0], pred_boxes=boxes[0]))
    losses = criterion(outputs, targets)
    assert sorted(losses) == sorted([*WEIGHTS, *(f'enc_{n}' for n in WEIGHTS)])
    enc_targets = ([{**t, 'labels': torch.zeros_like(t['labels'])} for t in targets] if agnostic
                   else targets)
    expected = criterion.loss_by_matching(outputs['enc_outputs'], enc_targets,
                                          criterion.num_boxes(targets, logits.device))
    for name in WEIGHTS:
        torch.testing.assert_close(losses[f'enc_{name}'], expected[name])
    assert targets[0]['labels'].any()  # the class-agnostic copy left the targets alone


def test_built_from_modules_and_half_precision_inputs():
    matcher = HungarianMatcher(class_cost_type='focal', **MATCH)
    criterion = SetCriterion(NUM_CLASSES, matcher, MODELS.build(dict(type='FocalLoss')),
                             MODELS.build(dict(type='L1Loss')),
                             MODELS.build(dict(type='GIoULoss')))
    assert criterion.matcher is matcher
    logits, boxes = random_outputs(NUM_CLASSES, batch=2, layers=1)
    targets = random_targets([2, 1])
    full = criterion(dict(pred_logits=logits[0], pred_boxes=boxes[0]), targets)
    half = criterion(dict(pred_logits=logits[0].bfloat16(), pred_boxes=boxes[0].bfloat16()),
                     targets)
    for name in WEIGHTS:
        assert half[name].dtype == torch.float32
        torch.testing.assert_close(half[name], full[name], rtol=0.05, atol=0.05)


def test_configuration_errors_name_the_option():
    with pytest.raises(ValueError, match='needs eos_coef'):
        MODELS.build({k: v for k, v in DETR.items() if k != 'eos_coef'})
    with pytest.raises(ValueError, match='Drop eos_coef'):
        MODELS.build(dict(DEFORMABLE, eos_coef=0.1))
    with pytest.raises(ValueError, match="class_cost_type='focal'"):
        MODELS.build(dict(DEFORMABLE, matcher=dict(type='HungarianMatcher',
                                                   class_cost_type='ce')))
    with pytest.raises(ValueError, match='ignore_index=-100'):
        MODELS.build(dict(DETR, num_classes=300,
                          loss_cls=dict(type='CrossEntropyLoss', ignore_index=255)))
    with pytest.raises(AttributeError, match='use_sigmoid'):
        MODELS.build(dict(DEFORMABLE, loss_cls=dict(type='GIoULoss')))
    with pytest.raises(KeyError, match="no 'type'"):
        MODELS.build(dict(DEFORMABLE, loss_bbox=dict(loss_weight=5.0)))


def test_output_errors_name_the_key():
    criterion = MODELS.build(DEFORMABLE)
    logits, boxes = random_outputs(NUM_CLASSES, layers=1)
    targets = random_targets([1, 1, 1])
    outputs = dict(pred_logits=logits[0], pred_boxes=boxes[0])
    with pytest.raises(KeyError, match='dn_outputs'):
        criterion(dict(outputs, dn_outputs={}), targets)
    with pytest.raises(KeyError, match=r"aux_outputs\[0\].*missing \['pred_boxes'\]"):
        criterion(dict(outputs, aux_outputs=[dict(pred_logits=logits[0])]), targets)
    with pytest.raises(ValueError, match='expects 4'):
        criterion(dict(pred_logits=torch.randn(3, 8, 5), pred_boxes=boxes[0]), targets)

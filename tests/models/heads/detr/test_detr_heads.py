"""DETR, Deformable DETR and DINO heads: the head contract, on padded odd-sized batches."""
import math

import pytest
import torch
from mmengine.structures import InstanceData

from vitdense.models.heads.det.detr.deformable_detr_head import hybrid_attn_mask
from vitdense.models.heads.det.detr.inputs import detr_targets
from vitdense.registry import MODELS
from vitdense.structures import DetDataSample, ShapeSpec
from vitdense.utils import register_all_modules

register_all_modules()

STRIDES = (8, 16, 32, 64)
SHAPES = {f'p{int(math.log2(s))}': ShapeSpec(32, s) for s in STRIDES}
PAD = (128, 192)
TINY = dict(embed_dims=64, num_queries=12, num_decoder_layers=2, num_heads=4, ffn_dims=64)
HEADS = {
    'DETRHead': dict(in_feature='p4', num_encoder_layers=1, dropout=0.0),
    'DeformableDETRHead': dict(num_encoder_layers=1, num_points=2),
    'DINOHead': dict(num_encoder_layers=1, num_points=2, num_dn_queries=8),
}


def make_head(name: str, **kwargs):
    torch.manual_seed(0)
    cfg = dict(type=name, num_classes=3, **{**TINY, **HEADS[name], **kwargs})
    return MODELS.build(cfg, default_args=dict(input_shape=SHAPES))


def make_feats(batch: int = 2, pad=PAD, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(batch, 32, -(-pad[0] // s.stride), -(-pad[1] // s.stride),
                           generator=g) for k, s in SHAPES.items()}


def make_sample(boxes, labels, img_shape=(121, 185), scale=(0.5, 0.5)) -> DetDataSample:
    ori = (round(img_shape[0] / scale[1]), round(img_shape[1] / scale[0]))
    sample = DetDataSample(metainfo=dict(img_shape=img_shape, batch_input_shape=PAD,
                                         pad_shape=PAD, ori_shape=ori, scale_factor=scale))
    sample.gt_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float).view(-1, 4),
                                       labels=torch.tensor(labels, dtype=torch.long))
    return sample


def two_images():
    return [make_sample([[8.0, 10.0, 60.0, 50.0], [70.0, 20.0, 150.0, 110.0]], [0, 2]),
            make_sample([[5.0, 5.0, 40.0, 33.0]], [1], img_shape=(97, 77))]


@pytest.mark.parametrize('name', sorted(HEADS))
def test_loss_reaches_every_parameter_and_names_every_layer(name):
    head = make_head(name)
    losses = head.loss(make_feats(), two_images())
    expected = {'loss_cls', 'loss_bbox', 'loss_giou', 'd0.loss_cls', 'd0.loss_bbox',
                'd0.loss_giou'}
    if name != 'DETRHead':
        expected |= {'enc_loss_cls', 'enc_loss_bbox', 'enc_loss_giou'}
    if name == 'DINOHead':
        expected |= {f'{p}dn_loss_{k}' for p in ('', 'd0.') for k in ('cls', 'bbox', 'giou')}
    assert set(losses) == expected
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing, missing


@pytest.mark.parametrize('name', sorted(HEADS))
def test_empty_ground_truth_gives_classification_loss_and_zero_box_losses(name):
    head = make_head(name)
    losses = head.loss(make_feats(), [make_sample([], []), make_sample([], [], (97, 77))])
    assert losses['loss_cls'] > 0 and losses['d0.loss_cls'] > 0
    for key, value in losses.items():
        if 'bbox' in key or 'giou' in key:
            assert value == 0, key
    sum(losses.values()).backward()


@pytest.mark.parametrize('name', sorted(HEADS))
def test_predict_keeps_max_per_img_boxes_inside_the_original_image(name):
    head = make_head(name, max_per_img=5).eval()
    samples = two_images()
    with torch.no_grad():
        preds = head.predict(make_feats(), samples, rescale=True)
    for pred, sample in zip(preds, samples):
        assert len(pred) == 5 and pred.labels.max() < 3
        assert (pred.scores[:-1] >= pred.scores[1:]).all()
        h, w = sample.metainfo['ori_shape']
        assert (pred.bboxes >= 0).all()
        assert (pred.bboxes[:, 0::2] <= w).all() and (pred.bboxes[:, 1::2] <= h).all()


@pytest.mark.parametrize('name', sorted(HEADS))
@pytest.mark.parametrize('pad', [(64, 64), (192, 64)])
def test_any_input_size_and_tensor_mode_without_samples(name, pad):
    head = make_head(name).eval()
    with torch.no_grad():
        out = head(make_feats(batch=1, pad=pad))
    num_logits = 4 if name == 'DETRHead' else 3
    queries = out['pred_logits'].shape[1]
    assert out['pred_logits'].shape == (1, queries, num_logits)
    assert 0 < queries <= 12 and out['pred_boxes'].shape == (1, queries, 4)
    assert ((out['pred_boxes'] >= 0) & (out['pred_boxes'] <= 1)).all()
    assert len(out['aux_outputs']) == 1


def test_padding_does_not_change_the_prediction_of_the_valid_region():
    # The same image alone (no padding) and padded inside a larger batch predict the same.
    # DETR only: the deformable heads' input projection ends in a GroupNorm whose statistics
    # cover the padding, as in Deformable DETR and mmdet.
    head = make_head('DETRHead').eval()
    feats = make_feats(batch=1, pad=(64, 128))
    small = make_sample([], [], img_shape=(64, 128))
    small.set_metainfo(dict(batch_input_shape=(64, 128)))
    padded = {k: torch.nn.functional.pad(v, (0, v.shape[-1], 0, v.shape[-2]), value=3.0)
              for k, v in feats.items()}  # the map doubled with junk in the padding
    big = make_sample([], [], img_shape=(64, 128))
    big.set_metainfo(dict(batch_input_shape=(128, 256)))
    with torch.no_grad():
        alone = head(feats, [small])
        inside = head(padded, [big])
    torch.testing.assert_close(inside['pred_boxes'], alone['pred_boxes'], atol=2e-4, rtol=1e-3)
    torch.testing.assert_close(inside['pred_logits'], alone['pred_logits'], atol=2e-4, rtol=1e-3)


def test_heads_reject_what_they_cannot_use():
    with pytest.raises(KeyError, match='p7'):
        make_head('DETRHead', in_feature='p7')
    with pytest.raises(KeyError, match='p7'):
        make_head('DINOHead', in_features=('p3', 'p7'))
    with pytest.raises(ValueError, match='softmax'):
        make_head('DINOHead', loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                            ignore_index=-100))


@pytest.mark.parametrize('name', ['DeformableDETRHead', 'DINOHead'])
def test_aux_head_trains_the_encoder_densely_and_leaves_predictions_alone(name):
    aux = dict(type='FCOSHead', feat_channels=32, stacked_convs=1)
    plain, with_aux = make_head(name), make_head(name, aux_head=aux, aux_loss_weight=2.0)
    losses = with_aux.loss(make_feats(), two_images())
    aux_keys = {'aux_loss_cls', 'aux_loss_bbox', 'aux_loss_centerness'}
    assert aux_keys <= set(losses)
    assert set(losses) - aux_keys == set(plain.loss(make_feats(), two_images()))
    # The weight scales the head's own losses, computed on one map per level at its stride.
    head_loss, seen = with_aux.aux_head.loss, []
    with_aux.aux_head.loss = lambda maps, samples: seen.append(maps) or head_loss(maps, samples)
    weighted = with_aux.loss(make_feats(), two_images())
    del with_aux.aux_head.loss
    raw = head_loss(seen[0], two_images())
    assert torch.allclose(weighted['aux_loss_cls'], 2 * raw['loss_cls'])
    assert [tuple(m.shape[1:]) for m in seen[0].values()] == [
        (TINY['embed_dims'], -(-PAD[0] // s), -(-PAD[1] // s)) for s in STRIDES]
    # Alone, the auxiliary losses reach the encoder and the input projections.
    with_aux.zero_grad()
    sum(v for k, v in with_aux.loss(make_feats(), two_images()).items()
        if k.startswith('aux_')).backward()
    assert with_aux.input_proj[0][0].weight.grad.abs().sum() > 0
    assert with_aux.encoder.layers[0].ffn.layers[0].weight.grad.abs().sum() > 0
    # Predictions are the decoder's: the same weights give the same boxes with or without it.
    plain.load_state_dict({k: v for k, v in with_aux.state_dict().items()
                           if not k.startswith('aux_head.')})
    plain.eval()
    with_aux.eval()
    samples = two_images()
    for a, b in zip(plain.predict(make_feats(), samples), with_aux.predict(make_feats(), samples)):
        assert torch.equal(a.bboxes, b.bboxes) and torch.equal(a.scores, b.scores)


@pytest.mark.parametrize('name', ['DeformableDETRHead', 'DINOHead'])
def test_one2many_queries_add_their_losses_and_leave_the_one2one_queries_alone(name):
    head = make_head(name, num_queries_one2many=10, k_one2many=3, lambda_one2many=0.5)
    plain = make_head(name)
    losses = head.loss(make_feats(), two_images())
    o2m = {k for k in losses if 'o2m_' in k}
    assert o2m == {f'{p}o2m_loss_{k}' for p in ('', 'd0.') for k in ('cls', 'bbox', 'giou')}
    assert set(losses) - o2m == set(plain.loss(make_feats(), two_images()))
    sum(losses.values()).backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing, missing
    # Neither group attends to the other: the one-to-one queries decode as they do alone, and
    # the one-to-many losses are the criterion's on the GT repeated k times, times lambda.
    torch.manual_seed(1)  # DINO's denoising noise, drawn the same in both calls
    samples = two_images()
    levels = head._flatten_levels(make_feats(), samples)
    memory = head._encode(levels)
    with torch.no_grad():
        both = head._decode(levels, memory, one2many=True)
        alone = head._decode(levels, memory)
    one2many = both.pop('one2many')
    assert one2many['pred_logits'].shape[1] == 10 and both['pred_logits'].shape[1] == 12
    for key in ('pred_logits', 'pred_boxes'):
        torch.testing.assert_close(both[key], alone[key])
        torch.testing.assert_close(both['enc_outputs'][key], alone['enc_outputs'][key])
    targets = detr_targets(samples, memory.device)
    repeated = [dict(t, labels=t['labels'].repeat(3), boxes=t['boxes'].repeat(3, 1))
                for t in targets]
    expected = head.criterion(one2many, repeated)
    got = head.one2many_losses(one2many, targets)
    torch.testing.assert_close(got['o2m_loss_giou'], 0.5 * expected['loss_giou'])
    torch.testing.assert_close(got['d0.o2m_loss_cls'], 0.5 * expected['d0.loss_cls'])
    # At test time only the one-to-one queries run: the same weights predict the same boxes.
    plain.load_state_dict(head.state_dict(), strict=False)
    head.eval()
    plain.eval()
    for a, b in zip(plain.predict(make_feats(), samples), head.predict(make_feats(), samples)):
        assert torch.equal(a.bboxes, b.bboxes) and torch.equal(a.scores, b.scores)


def test_hybrid_attn_mask_keeps_the_first_mask_and_separates_the_groups():
    first = torch.tensor([[False, True], [False, False]])
    mask = hybrid_attn_mask(first, 2, 3, torch.device('cpu'))
    assert mask.shape == (5, 5)
    assert torch.equal(mask[:2, :2], first)
    assert mask[2:, :2].all() and mask[:2, 2:].all() and not mask[2:, 2:].any()
    assert hybrid_attn_mask(first, 2, 0, torch.device('cpu')) is first
    assert not hybrid_attn_mask(None, 2, 1, torch.device('cpu'))[:2, :2].any()
    with pytest.raises(ValueError, match='k_one2many'):
        make_head('DINOHead', num_queries_one2many=4, k_one2many=0)

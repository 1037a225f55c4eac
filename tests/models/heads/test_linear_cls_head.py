"""LinearClsHead: logits shape, pooling + norm, overfitting a tiny batch, predictions."""
import pytest
import torch

from vitdense.models.heads.cls import LinearClsHead
from vitdense.structures import ClsDataSample, ShapeSpec

SHAPE = {'p4': ShapeSpec(channels=24, stride=16), 'p5': ShapeSpec(channels=8, stride=32)}


def _samples(labels) -> list[ClsDataSample]:
    return [ClsDataSample(gt_label=int(label)) for label in labels]


def test_logits_are_a_linear_map_of_normalised_pooled_features():
    head = LinearClsHead(SHAPE, num_classes=5)
    x = torch.randn(3, 24, 5, 7)
    logits = head({'p4': x, 'p5': torch.randn(3, 8, 3, 4)})
    assert logits.shape == (3, 5)
    pooled = torch.nn.functional.layer_norm(x.mean(dim=(2, 3)), (24, ))  # (3, 24)
    torch.testing.assert_close(logits, pooled @ head.fc.weight.T + head.fc.bias)
    plain = LinearClsHead(SHAPE, num_classes=5, in_feature='p5', norm=False)
    y = torch.randn(2, 8, 3, 4)
    torch.testing.assert_close(plain({'p5': y}), plain.fc(y.mean(dim=(2, 3))))


def test_loss_decreases_when_overfitting_a_tiny_batch():
    torch.manual_seed(0)
    head = LinearClsHead(SHAPE, num_classes=4, dropout=0.1, label_smoothing=0.1)
    feats = {'p4': torch.randn(8, 24, 3, 5)}
    samples = _samples([0, 1, 2, 3, 0, 1, 2, 3])
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = head.loss(feats, samples)['loss_cls']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    head.eval()
    predicted = head.predict(feats, _samples([0] * 8))
    assert [s.pred_label.item() for s in predicted] == [0, 1, 2, 3, 0, 1, 2, 3]


def test_predict_fills_scores_and_labels():
    head = LinearClsHead(SHAPE, num_classes=6).eval()
    feats = {'p4': torch.randn(2, 24, 4, 4)}
    samples = head.predict(feats, _samples([1, 2]))
    logits = head(feats)
    for i, sample in enumerate(samples):
        assert sample.pred_score.shape == (6, ) and sample.pred_label.shape == (1, )
        assert sample.pred_label.dtype == torch.int64
        torch.testing.assert_close(sample.pred_score, logits[i].softmax(0))
        assert sample.pred_label.item() == logits[i].argmax().item()
        assert sample.gt_label.item() == i + 1  # kept


def test_loss_weight_and_smoothing_match_torch():
    head = LinearClsHead(SHAPE, num_classes=5, label_smoothing=0.2, loss_weight=0.5)
    feats = {'p4': torch.randn(4, 24, 2, 3)}
    target = torch.tensor([4, 0, 2, 2])
    want = 0.5 * torch.nn.functional.cross_entropy(head(feats), target, label_smoothing=0.2)
    torch.testing.assert_close(head.loss(feats, _samples(target))['loss_cls'], want)


def test_bad_arguments_raise():
    with pytest.raises(KeyError, match="'p3' is not among the inputs"):
        LinearClsHead(SHAPE, num_classes=5, in_feature='p3')
    with pytest.raises(ValueError, match='num_classes'):
        LinearClsHead(SHAPE, num_classes=1)

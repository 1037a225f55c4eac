import pytest
import torch

from vitdense.models.losses import DiceLoss
from vitdense.registry import MODELS


def seg_batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, 5, generator=g)
    labels = torch.randint(0, 4, (2, 6, 5), generator=g)
    labels[1, :2] = 255
    return logits, labels


def loop_dice(logits, labels, smooth, exponent, class_weight=None):
    """Per image and class, over the non-ignored pixels only, written out."""
    per_image = []
    for b in range(logits.shape[0]):
        keep = labels[b] != 255
        prob = logits[b].softmax(0)[:, keep]  # (C, n)
        terms = []
        for c in range(logits.shape[1]):
            y = (labels[b][keep] == c).float()
            p = prob[c]
            dice = (2 * (p * y).sum() + smooth) / (p.pow(exponent).sum() + y.pow(exponent).sum()
                                                   + smooth)
            w = 1.0 if class_weight is None else class_weight[c]
            terms.append(w * (1 - dice))
        per_image.append(torch.stack(terms).mean())
    return torch.stack(per_image)


@pytest.mark.parametrize('smooth,exponent', [(1.0, 2.0), (0.5, 1.0)])
def test_dice_equals_a_per_image_per_class_loop_with_ignored_pixels_left_out(smooth, exponent):
    logits, labels = seg_batch()
    loss = MODELS.build(dict(type='DiceLoss', smooth=smooth, exponent=exponent))
    expected = loop_dice(logits, labels, smooth, exponent)
    torch.testing.assert_close(loss(logits, labels), expected.mean())
    torch.testing.assert_close(loss(logits, labels, reduction_override='none'), expected)


def test_dice_class_weight_loss_weight_and_name():
    logits, labels = seg_batch()
    cw = [0.2, 1.0, 2.0, 1.0]
    loss = DiceLoss(class_weight=cw, loss_weight=0.5)
    expected = 0.5 * loop_dice(logits, labels, 1.0, 2.0, cw).mean()
    torch.testing.assert_close(loss(logits, labels), expected)
    assert loss.loss_name == 'loss_dice'
    with pytest.raises(ValueError, match='class_weight has 3 entries for 4 classes'):
        DiceLoss(class_weight=[1, 1, 1])(logits, labels)


def test_dice_is_near_zero_for_a_confident_right_prediction_and_large_for_a_wrong_one():
    labels = torch.randint(0, 3, (1, 8, 8), generator=torch.Generator().manual_seed(1))
    right = torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float() * 30
    wrong = right.roll(1, dims=1)
    assert DiceLoss()(right, labels) < 1e-3
    assert DiceLoss()(wrong, labels) > 0.9


def test_dice_gradient_reaches_the_logits_of_a_rare_class():
    logits, labels = seg_batch()
    labels[:] = 0
    labels[0, 0, 0] = 3  # one pixel of class 3
    logits.requires_grad_(True)
    DiceLoss()(logits, labels).backward()
    assert logits.grad[0, 3, 0, 0] < 0  # raising class 3 there lowers the loss


def test_dice_rejects_bad_arguments():
    with pytest.raises(ValueError, match='exponent > 0'):
        DiceLoss(exponent=0)
    with pytest.raises(ValueError, match='reduction'):
        DiceLoss(reduction='avg')

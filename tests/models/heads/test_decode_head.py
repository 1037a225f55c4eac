"""BaseDecodeHead: input checks and the loss every decoder shares."""
import pytest
import torch
from mmengine.structures import PixelData

from vitdense.models.heads.seg import BaseDecodeHead, default_in_features
from vitdense.structures import SegDataSample, ShapeSpec
from vitdense.utils import register_all_modules

register_all_modules()
SHAPES = {'p3': ShapeSpec(8, 8), 'p4': ShapeSpec(8, 16), 'b5': ShapeSpec(8, 16),
          'p2': ShapeSpec(4, 4)}


class ConstantHead(BaseDecodeHead):
    """Logits that are a learnable constant map at stride 16."""

    def __init__(self, input_shape, num_classes, **kwargs):
        super().__init__(input_shape, num_classes, **kwargs)
        self.logits = torch.nn.Parameter(torch.randn(1, num_classes, 2, 3))

    def forward(self, feats):
        x = self.inputs(feats)[0]
        return self.logits.expand(x.shape[0], -1, -1, -1)


def samples(label):
    out = []
    for lab in label:
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=lab[None])
        out.append(s)
    return out


def test_default_inputs_are_the_stride_keyed_maps_finest_first():
    assert default_in_features(SHAPES) == ('p2', 'p3', 'p4')
    assert ConstantHead(SHAPES, 3).in_features == ('p2', 'p3', 'p4')
    assert ConstantHead(SHAPES, 3, in_features=('b5',)).in_features == ('b5',)
    with pytest.raises(KeyError, match='b7'):
        ConstantHead(SHAPES, 3, in_features=('b7',))


def test_loss_resizes_to_the_label_ignores_its_index_and_sums_a_list_of_losses():
    torch.manual_seed(0)
    head = ConstantHead(SHAPES, 3)
    label = torch.randint(0, 3, (2, 32, 48))
    label[:, :4] = 255
    feats = {'p2': torch.zeros(2, 4, 8, 12)}
    head.in_features = ('p2',)
    loss = head.loss(feats, samples(label))['loss_ce']
    up = torch.nn.functional.interpolate(head.logits.expand(2, -1, -1, -1), size=(32, 48),
                                         mode='bilinear', align_corners=False)
    expected = torch.nn.functional.cross_entropy(up, label, ignore_index=255)
    torch.testing.assert_close(loss, expected)

    two = ConstantHead(SHAPES, 3, in_features=('p2',), loss_decode=[
        dict(type='CrossEntropyLoss', loss_weight=1.0),
        dict(type='CrossEntropyLoss', loss_weight=0.5)])
    two.logits.data.copy_(head.logits.data)
    torch.testing.assert_close(two.loss(feats, samples(label))['loss_ce'], 1.5 * expected)


def test_missing_input_is_named():
    head = ConstantHead(SHAPES, 3, in_features=('p4',))
    with pytest.raises(KeyError, match="'p4'"):
        head({'p3': torch.zeros(1, 8, 2, 2)})

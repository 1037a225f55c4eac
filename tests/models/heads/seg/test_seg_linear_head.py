"""LinearHead: concatenated blocks and broadcast cls tokens, BatchNorm, a 1x1 classifier."""
import pytest
import torch

from vitdense.models.heads.seg import LinearHead
from vitdense.structures import ShapeSpec

SHAPES = {'b4': ShapeSpec(8, 16), 'b5': ShapeSpec(8, 16), 'b5_cls': ShapeSpec(8, 0),
          'p3': ShapeSpec(4, 8)}


def feats(batch: int = 2) -> dict[str, torch.Tensor]:
    return {'b4': torch.randn(batch, 8, 3, 5), 'b5': torch.randn(batch, 8, 3, 5),
            'b5_cls': torch.randn(batch, 8), 'p3': torch.randn(batch, 4, 6, 10)}


def test_the_cls_token_shifts_every_pixel_equally():
    torch.manual_seed(0)
    head = LinearHead(SHAPES, 3, in_features=('b4', 'b5', 'b5_cls')).eval()
    assert head.bn.num_features == 24
    with torch.no_grad():
        head.bn.running_mean.normal_()
        head.bn.running_var.uniform_(0.5, 2.0)
    x = feats()
    moved = dict(x, b5_cls=x['b5_cls'] + torch.randn(2, 8))
    shift = head(moved) - head(x)  # (B, K, h, w)
    assert shift.abs().amax() > 1e-4
    torch.testing.assert_close(shift, shift[:, :, :1, :1].expand_as(shift))

    maps_only = LinearHead(SHAPES, 3, in_features=('b4', 'b5')).eval()
    torch.testing.assert_close(maps_only(moved), maps_only(x))


def test_coarser_maps_are_resized_to_the_finest():
    torch.manual_seed(0)
    head = LinearHead(SHAPES, 3, in_features=('b5', 'p3')).eval()
    assert head.out_stride == 8
    assert head(feats()).shape == (2, 3, 6, 10)


def test_tokens_alone_are_refused():
    with pytest.raises(ValueError, match='at least one map'):
        LinearHead(SHAPES, 3, in_features=('b5_cls',))

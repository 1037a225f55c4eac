"""SETR's decoders: the naive head is per patch, PUP upsamples in steps, MLA aggregates top-down
over all its inputs."""
import pytest
import torch

from vitdense.models.heads.seg import SETRMLAHead, SETRUPHead
from vitdense.structures import ShapeSpec

DIM = 16
SHAPES = {'b1': ShapeSpec(DIM, 16), 'b3': ShapeSpec(DIM, 16), 'b5': ShapeSpec(DIM, 16),
          'p3': ShapeSpec(DIM, 8)}


def test_naive_head_classifies_each_patch_on_its_own():
    torch.manual_seed(0)
    head = SETRUPHead(SHAPES, 3, in_features=('b5',), channels=8, num_convs=1, kernel_size=1,
                      up_scale=1).eval()
    x = torch.randn(1, DIM, 5, 7)
    y = x.clone()
    y[:, :, 2, 3] += 1.0
    changed = (head({'b5': y}) - head({'b5': x})).abs().sum(1)[0] > 0  # (5, 7)
    expected = torch.zeros(5, 7, dtype=torch.bool)
    expected[2, 3] = True
    assert torch.equal(changed, expected)


def test_pup_upsamples_progressively_and_refuses_to_overshoot_the_input():
    torch.manual_seed(0)
    head = SETRUPHead(SHAPES, 3, in_features=('b5',), channels=8).eval()  # 4 x (3x3, 2x)
    assert head.out_stride == 1
    assert [m.scale_factor for m in head.convs if isinstance(m, torch.nn.Upsample)] == [2] * 4
    # one patch reaches beyond its own 16 x 16 output pixels through the 3x3 convs
    x = torch.randn(1, DIM, 3, 5)
    y = x.clone()
    y[:, :, 1, 2] += 1.0
    changed = (head({'b5': y}) - head({'b5': x})).abs().sum(1)[0] > 0  # (48, 80)
    assert changed[16:32, 32:48].all() and changed.sum() > 16 * 16
    with pytest.raises(ValueError, match='overshoot'):
        SETRUPHead(SHAPES, 3, in_features=('p3',), num_convs=4, up_scale=2)  # 16x > stride 8
    with pytest.raises(ValueError, match='one map'):
        SETRUPHead(SHAPES, 3, in_features=('b3', 'b5'))


def test_mla_aggregates_top_down_and_uses_every_input():
    """Stream i sees the inputs i..n-1 (the deepest flows into every stream), and every input
    changes the logits."""
    torch.manual_seed(0)
    names = ('b1', 'b3', 'b5')
    head = SETRMLAHead(SHAPES, 3, in_features=names, mla_channels=8, head_channels=4).eval()
    streams: dict[int, torch.Tensor] = {}
    for i, stream in enumerate(head.heads):
        stream.register_forward_hook(lambda m, args, out, i=i: streams.__setitem__(i, out))
    feats = {n: torch.randn(1, DIM, 3, 5) for n in names}
    base = head(feats)
    base_streams = dict(streams)
    for j, name in enumerate(names):
        moved = dict(feats, **{name: feats[name] + torch.randn_like(feats[name])})
        assert not torch.allclose(head(moved), base), f'{name} does not reach the logits'
        changed = [not torch.allclose(streams[i], base_streams[i]) for i in range(len(names))]
        assert changed == [i <= j for i in range(len(names))], name


def test_mla_needs_one_stride():
    with pytest.raises(ValueError, match='one stride'):
        SETRMLAHead(SHAPES, 3, in_features=('p3', 'b5'))

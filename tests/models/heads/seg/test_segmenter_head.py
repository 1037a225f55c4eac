"""Segmenter's mask transformer: masks are cosine similarities of patches and classes, then a
LayerNorm over the classes."""
import pytest
import torch

from vitdense.models.heads.seg import SegmenterMaskHead
from vitdense.structures import ShapeSpec

SHAPES = {'p4': ShapeSpec(32, 16), 'b1': ShapeSpec(32, 16)}


def head_and_feats(k: int = 4):
    torch.manual_seed(0)
    head = SegmenterMaskHead(SHAPES, k, in_features=('p4',), embed_dim=32, num_heads=2).eval()
    return head, {'p4': torch.randn(2, 32, 3, 5)}


def test_masks_are_cosine_similarities_invariant_to_the_projection_scale():
    head, feats = head_and_feats()
    cos = head.cosine_masks(feats)  # (B, h * w, K)
    assert cos.shape == (2, 15, 4)
    assert cos.abs().max() <= 1 + 1e-6
    with torch.no_grad():  # unnormalised dot products would grow 7 x 3 = 21 times
        head.patch_proj.weight.mul_(7.0)
        head.classes_proj.weight.mul_(3.0)
    torch.testing.assert_close(head.cosine_masks(feats), cos)


def test_logits_are_the_class_normed_masks_on_the_patch_grid():
    head, feats = head_and_feats()
    with torch.no_grad():
        head.mask_norm.weight.uniform_(0.5, 2.0)
        head.mask_norm.bias.normal_()
    logits = head(feats)  # (B, K, h, w)
    masks = torch.nn.functional.layer_norm(head.cosine_masks(feats), (4,),
                                           head.mask_norm.weight, head.mask_norm.bias)
    torch.testing.assert_close(logits, masks.transpose(1, 2).reshape(2, 4, 3, 5))
    # patch (row 1, column 3) is token 1 * 5 + 3 of the flattened grid
    torch.testing.assert_close(logits[:, :, 1, 3], masks[:, 8])


def test_heads_default_to_64_channels_each_and_one_input():
    assert SegmenterMaskHead({'p4': ShapeSpec(192, 16)}, 3).blocks[0].attn.num_heads == 3
    assert SegmenterMaskHead(SHAPES, 3, in_features=('p4',)).blocks[0].attn.num_heads == 1
    with pytest.raises(ValueError, match='num_heads'):
        SegmenterMaskHead(SHAPES, 3, in_features=('p4',), num_heads=3)
    with pytest.raises(ValueError, match='one map'):
        SegmenterMaskHead(SHAPES, 3, in_features=('b1', 'p4'), num_heads=2)

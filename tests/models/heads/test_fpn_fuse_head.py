import torch
from mmengine.structures import PixelData

from vitdense.models.heads.seg.fpn_fuse_head import FPNFuseHead
from vitdense.structures import SegDataSample, ShapeSpec


def _samples(label: torch.Tensor) -> list[SegDataSample]:
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=label[None])
    return [sample]


def test_loss_decode_from_config_weights_classes():
    torch.manual_seed(0)
    shapes = {'p3': ShapeSpec(8, 8)}
    plain = FPNFuseHead(shapes, num_classes=3, channels=8, norm=None, dropout=0.0)
    weighted = FPNFuseHead(shapes, num_classes=3, channels=8, norm=None, dropout=0.0,
                           loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True,
                                            class_weight=[0.0, 1.0, 1.0]))
    weighted.load_state_dict(plain.state_dict())
    feats = {'p3': torch.randn(1, 8, 4, 5)}
    label = torch.zeros(32, 40, dtype=torch.long)
    label[:, 20:] = 2
    label[0, 0] = 255  # ignored by both
    loss_plain = plain.loss(feats, _samples(label))['loss_ce']
    loss_weighted = weighted.loss(feats, _samples(label))['loss_ce']
    # Class 0 weighs nothing: only the class-2 half counts, averaged over non-ignored pixels.
    logits = torch.nn.functional.interpolate(plain(feats), size=(32, 40), mode='bilinear')
    per_pixel = torch.nn.functional.cross_entropy(logits, label[None], ignore_index=255,
                                                  reduction='none')[0]
    torch.testing.assert_close(loss_plain, per_pixel[label != 255].mean())
    torch.testing.assert_close(loss_weighted, per_pixel[label == 2].sum() / (label != 255).sum())

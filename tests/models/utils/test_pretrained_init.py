"""The vitdense ``Pretrained`` init: a work dir or a file, by key names, shared parts only."""
from pathlib import Path

import pytest
import torch
from mmengine.registry import DefaultScope

from vitdense.apis import load_config
from vitdense.registry import MODELS

ROOT = Path(__file__).resolve().parents[3]
DET = ROOT / 'configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py'
SEG = ROOT / 'configs/fpnseg/fpnseg_vit-t-hybrid_1xb4-demo_shapes.py'


def _build(config: Path, init_cfg=None):
    cfg = load_config(str(config)).model
    cfg.backbone.update(arch='test', init_cfg=None)
    cfg.init_cfg = init_cfg
    with DefaultScope.overwrite_default_scope('vitdense'):
        return MODELS.build(cfg)


def _trained_detector(work_dir: Path):
    torch.manual_seed(0)
    det = _build(DET)
    with torch.no_grad():
        for p in det.parameters():
            p.add_(torch.randn_like(p))  # weights no fresh model has
    work_dir.mkdir()
    torch.save(dict(state_dict=det.state_dict(), meta={}), work_dir / 'iter_7.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_7.pth'))
    return det.state_dict()


def test_a_segmentor_starts_from_the_detector_parts_it_shares(tmp_path):
    det = _trained_detector(tmp_path / 'det')
    seg = _build(SEG, dict(type='Pretrained', checkpoint=str(tmp_path / 'det')))
    fresh = {k: v.clone() for k, v in seg.state_dict().items()}
    seg.init_weights()
    state = seg.state_dict()
    shared = [k for k in state if k in det and det[k].shape == state[k].shape]
    assert any(k.startswith('backbone.') for k in shared)
    assert {'neck.stages.p3', 'neck.stages.p4', 'neck.stages.p5', 'neck.lateral.p3'} <= {
        k.rsplit('.', 3)[0] if k.startswith('neck.stages') else k.rsplit('.', 2)[0]
        for k in shared if k.startswith('neck.')}
    for k in shared:
        assert torch.equal(state[k], det[k]), k
    # What the detector does not have keeps its own initialisation.
    own = [k for k in state if k.startswith(('decode_head.', 'neck.stages.p2', 'neck.lateral.p2'))
           and state[k].is_floating_point() and state[k].numel() > 1]
    assert own and all(k not in det for k in own)
    assert any(not torch.equal(state[k], fresh[k]) for k in shared)


def test_a_missing_checkpoint_or_work_dir_is_named(tmp_path):
    seg = _build(SEG, dict(type='Pretrained', checkpoint=str(tmp_path / 'nowhere.pth')))
    with pytest.raises(FileNotFoundError, match='nowhere.pth.*init_cfg.checkpoint'):
        seg.init_weights()
    seg = _build(SEG, dict(type='Pretrained', checkpoint=str(tmp_path / 'fcos_untrained')))
    with pytest.raises(FileNotFoundError, match="fcos_untrained' does not exist"):
        seg.init_weights()

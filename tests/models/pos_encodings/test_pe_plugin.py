"""The plugin example of docs/plugins.md, run as written: a PE from a module outside the package.

The plugin module and the config are taken verbatim from the code blocks of the page (the
blocks whose first line names the file), written to a temporary folder on ``sys.path`` and
loaded through ``Config.fromfile`` + ``custom_imports``; a tiny version of the configured ViT
(``--cfg-options``-style overrides) is trained for a few steps on random data.
"""
import sys

import pytest
import torch
from mmengine.config import Config

from vitdense.registry import MODELS, POS_ENCODINGS

TINY = {'model.arch': 'test', 'model.img_size': (32, 48), 'model.patch_size': 8,
        'model.window_size': 2, 'model.global_indices': (1,), 'model.use_cls_token': True}



@pytest.fixture
def plugin_dir(tmp_path, monkeypatch, plugins_doc_block):
    for name in ('my_pos_enc.py', 'my_vit_distance_decay.py'):
        (tmp_path / name).write_text(plugins_doc_block(name))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop('my_pos_enc', None)
    POS_ENCODINGS._module_dict.pop('DistanceDecayPE', None)


def test_unknown_plugin_name_points_to_custom_imports():
    with pytest.raises(KeyError, match='custom_imports'):
        MODELS.build(dict(type='ViT', arch='test', attn_pos_enc=dict(type='DistanceDecayPE')))


def test_plugin_from_the_docs_trains_in_a_vit(plugin_dir):
    assert 'my_pos_enc' not in sys.modules
    cfg = Config.fromfile(str(plugin_dir / 'my_vit_distance_decay.py'))
    assert 'my_pos_enc' in sys.modules  # imported by custom_imports, not by this test
    cfg.merge_from_dict(TINY)
    torch.manual_seed(0)
    vit = MODELS.build(cfg.model)
    plugin_cls = type(vit.blocks[0].attn.pos_enc)
    assert plugin_cls.__name__ == 'DistanceDecayPE'
    assert plugin_cls.__module__ == 'my_pos_enc'
    slopes = [b.attn.pos_enc.log_slope for b in vit.blocks]
    start = [s.detach().clone() for s in slopes]
    optimizer = torch.optim.AdamW(vit.parameters(), lr=1e-2)
    x, target = torch.randn(2, 3, 37, 45), torch.randn(2, 32, 5, 6)
    losses = []
    for _ in range(4):
        loss = (vit(x)['p3'] - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert all(not torch.equal(s, s0) for s, s0 in zip(slopes, start))

"""Every way a weights file enters vitdense unpickles with ``weights_only=True``: a pickle that
runs code when loaded is refused at each entry point, and its code never runs."""
import os

import pytest
import torch
from torch import nn

from vitdense.engine.compat import TRUST_ENV, load_local_checkpoint
from vitdense.models.backbones import ViT
from vitdense.models.backbones.vit_weights import read_model_checkpoint
from vitdense.utils.convert import read_checkpoint, read_converted


class Payload:
    """Unpickling calls ``open(marker, 'w')``: a stand-in for any code an attacker picks."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, 'w')


@pytest.fixture
def malicious(tmp_path) -> tuple[str, str]:
    marker = str(tmp_path / 'code_ran')
    path = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': {'backbone.w': torch.zeros(1)}, 'meta': Payload(marker)}, path)
    return path, marker


LOADERS = {
    'tools/convert_weights.py source': lambda p: read_checkpoint(p),
    'converted pretrained file': lambda p: read_converted(p),
    "init_cfg Pretrained with prefix='backbone.'": lambda p: read_model_checkpoint(
        p, 'backbone.', ViT(arch='test', img_size=(32, 32))),
    'load_from / --resume / tools/test.py': lambda p: load_local_checkpoint(p),
}


@pytest.mark.parametrize('entry', list(LOADERS))
def test_a_code_running_pickle_is_refused(malicious, entry, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path, marker = malicious
    with pytest.raises(Exception, match='[Ww]eights only load failed|weights_only=True'):
        LOADERS[entry](path)
    assert not os.path.exists(marker)


def test_the_payload_is_real(malicious, monkeypatch):
    """Control: with the user's explicit trust switch, the same file does run its code, so the
    refusals above are what kept it from running."""
    path, marker = malicious
    monkeypatch.setenv(TRUST_ENV, '1')
    load_local_checkpoint(path)
    assert os.path.exists(marker)


def test_plain_weights_still_load(tmp_path):
    path = str(tmp_path / 'ok.pth')
    torch.save({'state_dict': nn.Linear(2, 2).state_dict()}, path)
    assert set(load_local_checkpoint(path)['state_dict']) == {'weight', 'bias'}

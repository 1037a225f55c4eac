"""Every config in configs/ builds: its model (shrunk to the test ViT), pipelines and metrics."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from vitdense.registry import METRICS, MODELS, TRANSFORMS
from vitdense.utils import register_all_modules

register_all_modules()
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def _pipelines(cfg):
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(split)
        if loader:
            yield loader.dataset.pipeline


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'vitdense'
    backbone = cfg.model.backbone
    backbone.update(arch='test')  # depth 2: keep block indices inside it
    for key in ('global_indices', 'cond_pos_indices', 'out_indices'):
        if key in backbone:
            backbone[key] = tuple(sorted({min(i, 1) if i >= 0 else i for i in backbone[key]}))
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 96), mode='tensor')
    assert out is not None
    for pipeline in _pipelines(cfg):
        for step in pipeline:
            TRANSFORMS.build(step)
    evaluators = cfg.test_evaluator
    for metric in evaluators if isinstance(evaluators, list) else [evaluators]:
        assert METRICS.get(metric['type']) is not None


def test_config_names_follow_the_convention():
    for path in CONFIGS:
        name = osp.basename(path)[:-3]
        method, rest = name.split('_', 1)
        assert osp.basename(osp.dirname(path)) == method, path
        assert 'xb' in rest and rest.count('_') >= 2, path

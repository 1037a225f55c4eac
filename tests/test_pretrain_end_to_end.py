"""The demo's backbone pretraining config: a few iterations through tools/train.py."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from test_end_to_end import run_tool, tiny_overrides

from vitdense.apis.demo import last_checkpoint
from vitdense.datasets.shapes import generate_shapes
from vitdense.registry import MODELS
from vitdense.utils import register_all_modules

CONFIG = 'configs/cls/cls_vit-t-conv_1xb64-demo_shapes-crops.py'
SEGMENTOR = 'configs/fpnseg/fpnseg_vit-t-conv_1xb8-demo_shapes.py'


@pytest.fixture(scope='module')
def crops_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), seed=5, num_train=6, num_val=3)
    return str(root) + '/'


def test_pretrain_then_load_the_backbone_into_the_demo_segmentor(crops_root, tmp_path):
    work = str(tmp_path / 'work')
    run_tool('tools/train.py', CONFIG, '--work-dir', work, '--cfg-options',
             *tiny_overrides(crops_root, iters=3))
    ckpt = last_checkpoint(work)
    assert ckpt.endswith('iter_3.pth')
    scalars = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(scalars[0]) as f:
        logged = [json.loads(line) for line in f if line.strip()]
    assert any('loss_cls' in line for line in logged)
    top1 = [line['accuracy/top1'] for line in logged if 'accuracy/top1' in line]
    assert len(top1) == 1 and 0 <= top1[0] <= 100

    register_all_modules()
    cfg = Config.fromfile(SEGMENTOR)
    cfg.model.backbone.arch = 'test'
    segmentor = MODELS.build(cfg.model)
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    segmentor.backbone.load_state_dict(backbone, strict=True)  # same config, same keys

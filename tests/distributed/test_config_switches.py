"""The distributed switches of every dense config: ``sync_bn='torch'`` exactly where the model
has BatchNorm, ``find_unused_parameters`` exactly where a training step leaves parameters
without a gradient (DDP fails on those, and searching for them costs every step)."""
import glob
import os.path as osp
import re

import pytest
import torch
from launching import ROOT
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData

from vitdense.models.backbones.variants import VIT_SIZES, get_vit_size
from vitdense.registry import MODELS
from vitdense.structures import DetDataSample, SegDataSample
from vitdense.utils import register_all_modules

register_all_modules()
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p and '/cls/' not in p)  # classifiers: no dense head


def tiny_model(cfg: Config) -> torch.nn.Module:
    """The config's model, its ViT at the test width (depth kept: heads index blocks)."""
    backbone = cfg.model.backbone
    backbone.pop('init_cfg', None)  # no pretrained weights here
    if backbone.type == 'ViT':
        test = VIT_SIZES['test']
        backbone.arch = dict(dim=test.dim, depth=get_vit_size(backbone.arch).depth,
                             num_heads=test.num_heads)
    return MODELS.build(cfg.model)


def unused_parameters(model: torch.nn.Module) -> list[str]:
    """Parameters without a gradient after one training step on two images (64 x 128, 64 x 96)
    with two objects each (and label maps, for a segmentor or a detector's semantic head)."""
    inputs, samples = [], []
    for h, w in ((64, 128), (64, 96)):
        inputs.append(torch.randint(0, 255, (3, h, w), dtype=torch.uint8))
        if hasattr(model, 'bbox_head'):
            sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                                 scale_factor=(1.0, 1.0)))
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor([[5.0, 6.0, 40.0, 50.0], [20.0, 10.0, 60.0, 30.0]]),
                labels=torch.tensor([0, 1]))
        else:
            sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        if not hasattr(model, 'bbox_head') or getattr(model, 'semantic_head', None) is not None:
            sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, h, w)))
        samples.append(sample)
    model.train()
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training=True)
    losses = model(**data, mode='loss')
    sum(v.sum() for k, v in losses.items() if 'loss' in k).backward()  # as mmengine sums
    return [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_sync_bn_and_find_unused_parameters_where_needed(path):
    cfg = Config.fromfile(path)
    model = tiny_model(cfg)
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert (cfg.get('sync_bn') == 'torch') == has_bn
    unused = unused_parameters(model)
    assert bool(cfg.get('find_unused_parameters', False)) == bool(unused), unused


@pytest.mark.parametrize('path', CONFIGS + glob.glob(osp.join(ROOT, 'configs', 'cls', '*.py')))
def test_auto_scale_lr_base_is_the_batch_in_the_config_name(path):
    """``{gpus}xb{batch}`` in the name is the total batch the learning rate is set for."""
    gpus, batch = re.search(r'_(\d+)xb(\d+)-', osp.basename(path)).groups()
    scale = Config.fromfile(path).auto_scale_lr
    assert scale.base_batch_size == int(gpus) * int(batch) and scale.enable is False

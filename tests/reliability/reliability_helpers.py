"""Shared by the reliability tests: a toy model for in-process Runners (a linear model with two
loss terms, one of which turns NaN, or whose gradient does, at chosen iterations), and the options
that make the demo FCOS config a tiny deterministic run."""
import torch
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

from vitdense.utils import register_all_modules

register_all_modules()

CONFIG = 'configs/fcos/fcos_vit-t-conv_1xb8-demo_shapes.py'
ITERS = 8


def tiny_fcos_options(data_root: str, workers: int) -> list[str]:
    """--cfg-options for CONFIG: ViT 'test' arch at 96 px, batch 2, ITERS iterations, a
    checkpoint every 2, deterministic algorithms, ``workers`` training loader workers."""
    size = '(96,96)'
    opts = {
        'model.backbone.arch': 'test',
        'model.backbone.img_size': size,
        'model.backbone.init_cfg': None,
        'model.init_cfg': None,
        'randomness.deterministic': True,
        'train_cfg.max_iters': ITERS,
        'train_cfg.val_interval': ITERS,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.checkpoint.max_keep_ckpts': 2,
        'default_hooks.logger.interval': 1,
        'param_scheduler.0.end': 2,
        'param_scheduler.1.begin': 2,
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': workers,
        'train_dataloader.persistent_workers': workers > 0,
        'train_dataloader.dataset.pipeline.2.scale': size,
        'train_dataloader.dataset.pipeline.3.crop_size': size,
        'val_dataloader.batch_size': 3,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'val_dataloader.dataset.pipeline.1.scale': size,
        'val_evaluator.ann_file': f'{data_root}annotations/instances_val.json',
    }
    for split in ('train', 'val'):
        opts[f'{split}_dataloader.dataset.data_root'] = data_root
    return [f'{k}={v}' for k, v in opts.items()]


class ToySet(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        return dict(inputs=torch.full((4,), float(i % 7)), index=i)


class ToyModel(BaseModel):
    """``loss_fit`` is a regression; ``loss_aux`` is 0, NaN for the samples in ``nan_at`` and a
    finite value with an infinite gradient (``sqrt`` at 0) for those in ``inf_grad_at``."""

    def __init__(self, nan_at=(), inf_grad_at=()):
        super().__init__()
        self.net = nn.Linear(4, 1)
        self.nan_at, self.inf_grad_at = set(nan_at), set(inf_grad_at)

    def forward(self, inputs, index=None, mode='tensor'):
        out = self.net(inputs)
        if mode != 'loss':
            return list(out.detach())
        aux = out.sum() * 0
        if self.nan_at & set(index.tolist()):
            aux = aux + float('nan')
        if self.inf_grad_at & set(index.tolist()):
            aux = (self.net.bias * 0).sum().sqrt()
        return dict(loss_fit=(out - 1).square().mean(), loss_aux=aux)

"""Probe: does the shapes segmentation pipeline learn when the ViT is swapped for a plain CNN?

Runs the FPN-fuse segmentor's data pipeline, neck and decoder with an 8-layer CNN backbone on random
batches of 8 and prints the mean cross-entropy every 20 iterations. Written to tell a
from-scratch-ViT limitation from a pipeline problem (see docs/benchmarks.md).

Usage: python tools/analysis/probe_seg_learning.py [--iters 300] [--lr 1e-3]
"""
import argparse
import random
import time

import torch
from mmengine.dataset import pseudo_collate
from torch import nn

from vitdense.apis import load_config
from vitdense.registry import DATASETS, MODELS
from vitdense.structures import ShapeSpec

# The FPN-fuse segmentor (the demo's until issue 8's seventh round): its neck reads a stride-16 map.
FPN_SEGMENTOR = 'configs/fpnseg/fpnseg_vit-t-hybrid_1xb4-demo_shapes.py'


class ProbeCNN(nn.Module):
    """Four stages of two 3x3 conv + BN + ReLU, stride 16 in all; the last three stages' maps
    are p2, p3, p4 (the neck's input and laterals)."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 192)):
        super().__init__()
        stages, c = [], 3
        for w in widths:
            stages.append(nn.Sequential(
                nn.Conv2d(c, w, 3, 2, 1), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                nn.Conv2d(w, w, 3, 1, 1), nn.BatchNorm2d(w), nn.ReLU(inplace=True)))
            c = w
        self.stages = nn.ModuleList(stages)
        self.widths = widths

    def output_shape(self) -> dict[str, ShapeSpec]:
        return {f'p{i + 1}': ShapeSpec(w, 2 ** (i + 1))
                for i, w in enumerate(self.widths) if i >= 1}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i >= 1:
                out[f'p{i + 1}'] = x
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--lr', type=float, default=1e-3)
    args = parser.parse_args()
    MODELS.register_module(module=ProbeCNN, force=True)
    cfg = load_config(FPN_SEGMENTOR)
    cfg.model.backbone = dict(type='ProbeCNN')  # from scratch: no init_cfg
    torch.manual_seed(0)
    random.seed(0)
    model = MODELS.build(cfg.model).train()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    opt = torch.optim.AdamW(model.parameters(), args.lr, weight_decay=0.05)
    start, history = time.time(), []
    for it in range(args.iters):
        batch = pseudo_collate([dataset[random.randrange(len(dataset))] for _ in range(8)])
        for group in opt.param_groups:
            group['lr'] = args.lr * min(1.0, (it + 1) / 20)
        data = model.data_preprocessor(batch, True)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            loss = sum(model(**data, mode='loss').values())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        history.append(loss.item())
        if it % 20 == 19:
            print(f'iter {it + 1} ce {sum(history[-20:]) / 20:.3f} '
                  f'{time.time() - start:.0f}s', flush=True)


if __name__ == '__main__':
    main()

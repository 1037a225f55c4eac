"""Probe: how many object views does a small CNN need to tell the shapes classes apart?

Crops every non-crowd object of at least ``--min-size`` px from the shapes COCO files (15 %
margin, resized to 40 x 40), trains a 6-conv CNN classifier on the train crops with batches of 64
and prints val accuracy every ``--eval-every`` iterations. It measures the sample cost of the
shape recognition that both demo models must learn from scratch (see docs/benchmarks.md), and
checks that labels and shapes agree: an accuracy far above 1/8 is only reachable if they do.

Usage: python tools/analysis/probe_shape_classification.py [--data-root data/shapes]
    [--iters 1000] [--eval-every 200]
"""
import argparse
import json
import os.path as osp
import time

import cv2
import numpy as np
import torch
from torch import nn

CROP = 40


def load_crops(data_root: str, split: str, min_size: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Object crops (N, 3, 40, 40) in [-0.5, 0.5] and their labels (N,) 0..K-1."""
    with open(osp.join(data_root, 'annotations', f'instances_{split}.json')) as f:
        coco = json.load(f)
    files = {img['id']: img['file_name'] for img in coco['images']}
    crops, labels, cached = [], [], (None, None)
    for ann in sorted(coco['annotations'], key=lambda a: a['image_id']):
        x, y, w, h = ann['bbox']
        if ann['iscrowd'] or max(w, h) < min_size:
            continue
        if cached[0] != ann['image_id']:
            path = osp.join(data_root, split, files[ann['image_id']])
            cached = (ann['image_id'], cv2.imread(path))
        img, margin = cached[1], 0.15 * max(w, h)
        x0, y0 = int(max(0, x - margin)), int(max(0, y - margin))
        x1, y1 = int(min(img.shape[1], x + w + margin)), int(min(img.shape[0], y + h + margin))
        crops.append(cv2.resize(img[y0:y1, x0:x1], (CROP, CROP)))
        labels.append(ann['category_id'] - 1)
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255 - 0.5  # (N, 3, S, S)
    return x, torch.tensor(labels)


def small_cnn(num_classes: int) -> nn.Sequential:
    """Three stages of two 3x3 conv + BN + ReLU and a 2x2 max-pool, then a linear classifier."""
    layers, c = [], 3
    for w in (32, 64, 128):
        layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
                   nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--data-root', default='data/shapes')
    parser.add_argument('--iters', type=int, default=1000)
    parser.add_argument('--eval-every', type=int, default=200)
    parser.add_argument('--min-size', type=float, default=12.0)
    parser.add_argument('--lr', type=float, default=2e-3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x_train, y_train = load_crops(args.data_root, 'train', args.min_size)
    x_val, y_val = load_crops(args.data_root, 'val', args.min_size)
    print(f'{len(x_train)} train crops, {len(x_val)} val crops', flush=True)
    net = small_cnn(int(y_train.max()) + 1)
    opt = torch.optim.AdamW(net.parameters(), args.lr)
    start = time.time()
    for it in range(1, args.iters + 1):
        idx = torch.randint(len(x_train), (64, ))
        x = x_train[idx].flip(3) if it % 2 else x_train[idx]
        loss = nn.functional.cross_entropy(net(x), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % args.eval_every == 0:
            net.eval()
            with torch.no_grad():
                acc = (net(x_val).argmax(1) == y_val).float().mean().item()
            net.train()
            print(f'iter {it} views {it * 64} train_loss {loss.item():.3f} val_acc {acc:.3f} '
                  f'{time.time() - start:.0f}s', flush=True)


if __name__ == '__main__':
    main()

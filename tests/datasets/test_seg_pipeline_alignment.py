"""Image and label stay aligned through the demo segmentor's training pipeline and preprocessor.

Shapes objects are flat colour regions, so the image changes sharply where the label changes: at
label edges the mean image gradient must be several times the gradient inside labelled regions.
A label map shifted, flipped or scaled differently from its image loses that contrast.
"""
import numpy as np
import torch
from mmengine.dataset import pseudo_collate

from vitdense.apis import load_config
from vitdense.apis.demo import demo_job
from vitdense.registry import DATASETS, MODELS


def edge_contrast(img: torch.Tensor, label: torch.Tensor) -> float:
    """Mean |horizontal image gradient| across label edges / inside labelled regions."""
    grad = img.float().diff(dim=-1).abs().sum(0)  # (H, W - 1)
    left, right = label[:, :-1], label[:, 1:]
    edge = left != right
    inside = (left == right) & (left != 255)
    return float(grad[edge].mean() / grad[inside].mean())


def contrasts(shapes_root: str, shift: int) -> list[float]:
    cfg = load_config(demo_job('segmentor').config)
    cfg.train_dataloader.dataset.data_root = shapes_root
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    torch.manual_seed(0)
    np.random.seed(0)
    data = preprocessor(pseudo_collate([dataset[i] for i in range(len(dataset))]), True)
    out = []
    for img, sample in zip(data['inputs'], data['data_samples']):
        label = sample.gt_sem_seg.data[0].roll(shift, dims=1)
        if (label != 255).sum() > 100:
            out.append(edge_contrast(img, label))
    return out


def test_labels_stay_on_their_objects(shapes_root):
    aligned = contrasts(shapes_root, shift=0)
    shifted = contrasts(shapes_root, shift=6)  # the check must notice a 6 px misalignment
    assert len(aligned) >= 4
    assert np.median(aligned) > 2.5
    assert np.median(shifted) < 0.6 * np.median(aligned)

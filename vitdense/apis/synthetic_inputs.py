"""A batch of random images at a chosen network-input size, packed as the config packs them.

What ``get_flops.py`` and ``benchmark.py`` feed a model: the config's test pipeline with only its
packing step (``Pack*Inputs``), so no resize changes the requested size, then the model's data
preprocessor (normalisation, padding to ``pad_size_divisor``) as at test time.
"""
import copy

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate


def pack_random_images(cfg: Config, height: int, width: int, batch_size: int = 1,
                       seed: int = 0) -> list[dict]:
    """``batch_size`` random uint8 ``height`` x ``width`` images through the packing step of
    ``cfg``'s test pipeline: ``[dict(inputs=(3, H, W) tensor, data_samples=...), ...]``.

    Raises:
        ValueError: the test pipeline has no ``Pack*Inputs`` step.
    """
    steps = [copy.deepcopy(s) for s in cfg.test_dataloader.dataset.pipeline
             if s['type'].startswith('Pack')]
    if not steps:
        raise ValueError('test_dataloader.dataset.pipeline has no Pack*Inputs step (e.g. '
                         "dict(type='PackDetInputs')): cannot build a batch for this model.")
    pack = Compose(steps)
    rng = np.random.default_rng(seed)
    return [pack(dict(img=rng.integers(0, 256, (height, width, 3), dtype=np.uint8), img_id=i,
                      img_path='', img_shape=(height, width), ori_shape=(height, width)))
            for i in range(batch_size)]


def synthetic_batch(model: torch.nn.Module, height: int, width: int, batch_size: int = 1,
                    seed: int = 0) -> dict:
    """``batch_size`` random uint8 images of ``height`` x ``width``, packed and preprocessed:
    ``dict(inputs=(B, 3, H', W') tensor, data_samples=[...])`` on the model's device, H' and W'
    padded up to the preprocessor's divisor.

    Args:
        model: from :func:`vitdense.apis.init_model` (it keeps its config as ``model.cfg``).
    """
    items = pack_random_images(model.cfg, height, width, batch_size, seed)
    with torch.no_grad():
        return model.data_preprocessor(pseudo_collate(items), False)

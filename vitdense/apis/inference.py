"""Build a model from a config and a checkpoint, and run it on images."""
import copy
from typing import Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.runner import load_checkpoint

from vitdense.registry import DATASETS, MODELS
from vitdense.utils import register_all_modules

from .launch import load_config


def config_dataset_meta(cfg: Config) -> dict:
    """The test dataset's metainfo as the dataset would have it: its class's defaults
    (``METAINFO``, e.g. the shapes classes) merged with the config's ``metainfo``."""
    dataset = cfg.test_dataloader.dataset
    override = dataset.get('metainfo')
    kind = dataset.get('type')
    try:
        dataset_cls = kind if isinstance(kind, type) else DATASETS.get(kind)
    except KeyError:  # an unknown name: building the dataset reports it
        dataset_cls = None
    if dataset_cls is None or not hasattr(dataset_cls, '_load_metainfo'):
        return dict(override or {})
    return dict(dataset_cls._load_metainfo(copy.deepcopy(override)))


def init_model(config: str | Config, checkpoint: str | None = None,
               device: str = 'cpu') -> torch.nn.Module:
    """The model of ``config`` in eval mode, with ``checkpoint``'s weights when given.

    The config's test pipeline and dataset classes are kept on the model (``model.cfg``,
    ``model.dataset_meta``) for :func:`inference_model`: the checkpoint's ``dataset_meta`` when
    it has one (mmengine's Runner saves it), else the test dataset's (:func:`config_dataset_meta`).
    """
    cfg = load_config(config) if isinstance(config, str) else config
    register_all_modules()
    model = MODELS.build(cfg.model)
    model.dataset_meta = config_dataset_meta(cfg)
    if checkpoint is not None:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu')
        meta = ckpt.get('meta', {}).get('dataset_meta')
        if meta:
            model.dataset_meta = meta
    model.cfg = cfg
    return model.to(device).eval()


def _test_pipeline(cfg: Config) -> Compose:
    """The test pipeline without annotation loading (inference has no labels)."""
    steps = [copy.deepcopy(s) for s in cfg.test_dataloader.dataset.pipeline
             if s['type'] != 'LoadAnnotations']
    return Compose(steps)


def inference_model(model: torch.nn.Module, imgs: str | np.ndarray | Sequence):
    """Predict on one image or a list: paths, or H x W x 3 BGR uint8 arrays.

    Returns a data sample (``pred_instances`` or ``pred_sem_seg`` at the original image size),
    or a list of them when given a list.
    """
    single = isinstance(imgs, (str, np.ndarray))
    items = [imgs] if single else list(imgs)
    pipeline = _test_pipeline(model.cfg)
    batch = []
    for i, img in enumerate(items):
        if isinstance(img, str):
            batch.append(pipeline(dict(img_path=img, img_id=i)))
        else:
            steps = [t for t in pipeline.transforms if type(t).__name__ != 'LoadImageFromFile']
            results = dict(img=img, img_id=i, img_path='', img_shape=img.shape[:2],
                           ori_shape=img.shape[:2])
            for step in steps:
                results = step(results)
            batch.append(results)
    with torch.no_grad():
        out = model.test_step(pseudo_collate(batch))
    return out[0] if single else out

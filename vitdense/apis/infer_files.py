"""Predict on image files and write what a user looks at: a drawing and a JSON per image.

Layout under ``out_dir`` (as mmdet's ``DetInferencer``: ``vis/`` and ``preds/``)::

    vis/<name>.png          boxes with class and score, or the colour mask with a legend
    preds/<name>.json       the predictions (fields below)
    preds/<name>_label.png  segmentation only: the label of each pixel (uint8, uint16 past 255)

A detection JSON has ``image``, ``height``, ``width``, ``score_thr`` and, for every predicted
box (all of them: ``score_thr`` only chooses what is drawn), ``bboxes`` (xyxy in original-image
pixels), ``labels``, ``class_names``, ``scores``. A segmentation JSON has ``image``, ``height``,
``width``, ``label_png`` (its path), ``classes`` (the names of the label values) and
``pixel_counts`` (class name -> pixels, for the classes present).
"""
import json
import os
import os.path as osp
from typing import Sequence

import cv2
import numpy as np
import torch

from vitdense.visualization import bgr_palette, draw_detections, draw_label_map
from vitdense.visualization.draw import make_palette

from .image_files import read_image, unique_stems
from .inference import inference_model


def _class_names(model: torch.nn.Module) -> list[str]:
    classes = list(getattr(model, 'dataset_meta', {}).get('classes', ()))
    if not classes:
        raise ValueError("The model has no class names: neither its checkpoint's meta nor the "
                         "config's test dataset gives 'classes'; set "
                         'test_dataloader.dataset.metainfo=dict(classes=(...)) in the config.')
    return classes


def _check_labels(labels: np.ndarray, classes: Sequence[str]) -> None:
    if labels.size and int(labels.max()) >= len(classes):
        raise ValueError(f'The model predicted label {int(labels.max())} but the dataset has '
                         f'{len(classes)} classes: the checkpoint does not belong to this '
                         "config, or the config's metainfo lists too few classes.")


def detection_record(sample, classes: Sequence[str]) -> dict:
    """``pred_instances`` of a data sample as JSON-ready lists (xyxy original pixels)."""
    pred = sample.pred_instances
    labels = pred.labels.cpu().numpy().astype(int)
    _check_labels(labels, classes)
    return dict(bboxes=[[round(float(v), 2) for v in box] for box in pred.bboxes.cpu().numpy()],
                labels=labels.tolist(), class_names=[classes[i] for i in labels],
                scores=[round(float(s), 4) for s in pred.scores.cpu().numpy()])


def pixel_counts(label: np.ndarray, classes: Sequence[str]) -> dict[str, int]:
    """Class name -> number of pixels of ``label`` (H, W), for the classes present."""
    values, counts = np.unique(label, return_counts=True)
    _check_labels(values, classes)
    return {classes[int(v)]: int(c) for v, c in zip(values, counts)}


def infer_files(model: torch.nn.Module, paths: Sequence[str], out_dir: str,
                score_thr: float = 0.3) -> list[dict]:
    """Run ``model`` (from :func:`init_model`) on each image file; write ``vis/<name>.png`` and
    ``preds/<name>.json`` (and ``preds/<name>_label.png`` for a segmentor) under ``out_dir``.

    Images of any size and aspect are predicted one at a time, in original-image pixels.

    Returns:
        The JSON records, in the order of ``paths``; each also has ``vis`` (its drawing's path).

    Raises:
        ValueError: a file is not a readable image (named), or the model has no class names.
    """
    classes = _class_names(model)
    meta = model.dataset_meta
    palette = bgr_palette(meta) or make_palette(len(classes))
    for sub in ('vis', 'preds'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    records = []
    for path, stem in zip(paths, unique_stems(paths)):
        img = read_image(path)
        sample = inference_model(model, img)
        record = dict(image=path, height=img.shape[0], width=img.shape[1])
        if 'pred_instances' in sample:
            record.update(score_thr=score_thr, **detection_record(sample, classes))
            drawn = draw_detections(img, np.asarray(record['bboxes']).reshape(-1, 4),
                                    record['labels'], record['scores'], classes, score_thr,
                                    palette)
        elif 'pred_sem_seg' in sample:
            label = sample.pred_sem_seg.data[0].cpu().numpy()  # (H, W) class indices
            label_png = osp.join(out_dir, 'preds', f'{stem}_label.png')
            cv2.imwrite(label_png, label.astype(np.uint8 if len(classes) <= 256 else np.uint16))
            counts = pixel_counts(label, classes)
            record.update(label_png=label_png, classes=classes, pixel_counts=counts)
            drawn = draw_label_map(img, label, classes, palette, meta.get('background_index'))
        else:
            raise ValueError(f'The model returned neither pred_instances nor pred_sem_seg for '
                             f'{path!r}: infer.py draws detectors and segmentors only.')
        record['vis'] = osp.join(out_dir, 'vis', f'{stem}.png')
        cv2.imwrite(record['vis'], drawn)
        with open(osp.join(out_dir, 'preds', f'{stem}.json'), 'w') as f:
            json.dump(record, f, indent=1)
        records.append(record)
    return records

"""Write a COCO detection split in the YOLO (Ultralytics) layout that :class:`YoloDataset` reads.

Used to make YOLO-format copies of the built-in shapes data (tests, docs/get_started.md) and by
``tools/dataset_converters/coco_to_yolo.py``. Per split::

    <out_dir>/images/<split>/<file_name>    hard link to the COCO image (a copy across devices)
    <out_dir>/labels/<split>/<stem>.txt     'class cx cy w h' per box, fractions, 6 decimals
    <out_dir>/data.yaml                     path: .  <split>: images/<split>  names: {...}

Crowd boxes (``iscrowd=1``, COCO's ignore regions) have no YOLO equivalent and are left out; the
number left out is returned. Classes are numbered in ascending category-id order.
"""
import os
import shutil
from collections import defaultdict

import yaml

from vitdense.datasets.coco import load_json
from vitdense.utils.progress import progress


def _link_or_copy(src: str, dst: str) -> None:
    if os.path.exists(dst):
        os.remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_data_yaml(out_dir: str, names: list[str], splits: list[str]) -> str:
    """Write ``<out_dir>/data.yaml`` (Ultralytics keys) for ``splits``; return its path."""
    data = {'path': '.', **{s: f'images/{s}' for s in splits},
            'names': {i: n for i, n in enumerate(names)}}
    path = os.path.join(out_dir, 'data.yaml')
    with open(path, 'w', encoding='utf-8') as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return path


def coco_to_yolo(ann_file: str, img_dir: str, out_dir: str, split: str) -> dict[str, int]:
    """Convert one COCO split; (re)write ``data.yaml`` listing every split under ``out_dir``.

    Args:
        ann_file: COCO json (``images``, ``annotations``, ``categories``).
        img_dir: folder of its images.
        out_dir: the YOLO dataset folder.
        split: split name (``'train'``, ``'val'`` or ``'test'``).

    Returns:
        Counts: ``images``, ``boxes`` written, ``crowd`` boxes left out.
    """
    coco = load_json(ann_file)
    cats = sorted(coco['categories'], key=lambda c: c['id'])
    label_of = {c['id']: i for i, c in enumerate(cats)}
    anns = defaultdict(list)
    for ann in coco.get('annotations', []):
        anns[ann['image_id']].append(ann)
    img_out, label_out = (os.path.join(out_dir, d, split) for d in ('images', 'labels'))
    os.makedirs(img_out, exist_ok=True)
    counts = dict(images=0, boxes=0, crowd=0)
    for img in progress(coco['images'], desc=f'coco_to_yolo {split}'):
        width, height = img['width'], img['height']
        lines = []
        for ann in anns[img['id']]:
            if ann.get('iscrowd', 0):
                counts['crowd'] += 1
                continue
            x, y, w, h = ann['bbox']
            lines.append(f"{label_of[ann['category_id']]} {(x + w / 2) / width:.6f} "
                         f'{(y + h / 2) / height:.6f} {w / width:.6f} {h / height:.6f}')
        label_file = os.path.join(label_out, os.path.splitext(img['file_name'])[0] + '.txt')
        img_file = os.path.join(img_out, img['file_name'])
        for folder in {os.path.dirname(label_file), os.path.dirname(img_file)}:
            os.makedirs(folder, exist_ok=True)  # file_name may hold sub-folders
        with open(label_file, 'w', encoding='utf-8') as f:
            f.write(''.join(line + '\n' for line in lines))
        _link_or_copy(os.path.join(img_dir, img['file_name']), img_file)
        counts['images'] += 1
        counts['boxes'] += len(lines)
    splits = sorted(s for s in os.listdir(os.path.join(out_dir, 'images'))
                    if os.path.isdir(os.path.join(out_dir, 'images', s)))
    write_data_yaml(out_dir, [c['name'] for c in cats], splits)
    return counts

"""The built-in ``shapes`` dataset: synthetic scenes in COCO detection and ADE20K layouts.

Every scene has 1-12 objects of 8 classes told apart by shape only (colour is random per object),
rotated, aspect-jittered where that keeps the class, 8 px to half the image side (log-uniform),
painted in order so that later objects occlude earlier ones, on a textured, noisy background
(gradient, low-frequency texture, translucent blobs, lines, gaussian noise). Image sides are drawn
independently from 160-384 px. The same seed gives byte-identical files.

Occlusion policy: an object whose visible part is under 30 % of its full area (counting parts cut
off by the image border) or under 20 px stays in the scene and in the segmentation map (pixels of
its class), and is written to the COCO file with ``iscrowd=1``, so that detectors are neither
rewarded nor penalised for it (COCO ignore regions). A fully covered object leaves no trace.

Layout under ``out_dir``::

    annotations/instances_{train,val}.json   COCO boxes of the visible parts, polygons, areas
    train/*.jpg  val/*.jpg                    the scenes (JPEG quality 90)
    images/{training,validation}/*.jpg        the same scenes (hard links where possible)
    annotations/{training,validation}/*.png   uint8 labels: 0 = background, 1..8 = class
    shapes_meta.json                          written last; marks a complete dataset

For segmentation, background is a real class, learned and scored, as in Pascal VOC (not ignored
as ADE20K's "other" through ``reduce_zero_label``). The datasets that read these files, with the
class names, are in :mod:`vitdense.datasets.shapes_datasets` (``ShapesDataset``,
``ShapesSegDataset``: 9 classes with ``'background'`` at label 0, ``ShapesCropDataset``).

Usage: ``python -m vitdense.datasets.shapes --out data/shapes [--seed 0 --num-train 2000
--num-val 300] [--skip-existing]``. A progress bar per split shows on a terminal (stderr), never
in logs or pipes (:mod:`vitdense.utils.progress`).
"""
import argparse
import json
import os
import re
import time
from typing import Optional, Sequence

import cv2
import numpy as np

from vitdense.datasets.shapes_datasets import SHAPES_CLASSES
from vitdense.utils.progress import progress

GENERATOR_VERSION = 2  # bump whenever the output for a seed changes
META_FILE = 'shapes_meta.json'
MIN_SIDE, MAX_SIDE = 160, 384
MIN_OBJECT_SIZE = 8.0
MIN_OBJECT_SIZE_PX = 16  # smallest canvas side with canvas_scale
MAX_OBJECTS = 12
MIN_VISIBLE_FRACTION, MIN_VISIBLE_PIXELS = 0.3, 20
JPEG_QUALITY = 90
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_SPLITS = (('train', 'training'), ('val', 'validation'))
_OWN_FILE = re.compile(r'^\d{6}\.(jpg|png)$')


def _polygon(num: int, star_inner: Optional[float] = None) -> np.ndarray:
    """Unit-radius regular polygon (or star with that inner radius): (num or 2 * num, 2)."""
    if star_inner is None:
        angles = np.arange(num) * 2 * np.pi / num
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    angles = np.arange(2 * num) * np.pi / num
    radius = np.where(np.arange(2 * num) % 2 == 0, 1.0, star_inner)
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def _cross(thickness: float) -> np.ndarray:
    """Unit-radius plus sign with arms ``thickness`` (fraction of the size) wide: (12, 2)."""
    t = thickness
    return np.array([[-t, -1], [t, -1], [t, -t], [1, -t], [1, t], [t, t], [t, 1], [-t, 1],
                     [-t, t], [-1, t], [-1, -t], [-t, -t]], dtype=np.float64)


def _fill(mask: np.ndarray, points: np.ndarray, value: int) -> None:
    """Fill the polygon ``points`` (P, 2), in pixel-centre coordinates, with ``value``."""
    cv2.fillPoly(mask, [np.round(points * (1 << _SHIFT)).astype(np.int32)], value, cv2.LINE_8,
                 _SHIFT)


def _disk(mask: np.ndarray, cx: float, cy: float, radius: float, value: int) -> None:
    num = max(24, int(4 * radius))
    _fill(mask, _polygon(num) * radius + (cx, cy), value)


def draw_shape(kind: str, size: float, rng: np.random.Generator) -> np.ndarray:
    """Binary mask of one object of class ``kind`` in a square patch.

    Args:
        kind: one of :data:`SHAPES_CLASSES`.
        size: the object's longest extent in pixels.
        rng: source of the rotation, aspect and shape parameters.

    Returns:
        (S, S) uint8 mask (1 inside), S = ceil(size) + 3, object centred.
    """
    side = int(np.ceil(size)) + 3
    mask = np.zeros((side, side), np.uint8)
    # Pixel-centre coordinates; fillPoly covers about half a pixel beyond the outline.
    c, r = (side - 1) / 2.0, size / 2.0 - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    if kind in ('circle', 'ring', 'crescent'):
        _disk(mask, c, c, r, 1)
        if kind == 'ring':
            _disk(mask, c, c, r * rng.uniform(0.45, 0.65), 0)
        elif kind == 'crescent':
            offset = r * rng.uniform(0.35, 0.6)
            _disk(mask, c + offset * np.cos(angle), c + offset * np.sin(angle),
                  r * rng.uniform(0.8, 0.95), 0)
        return mask
    aspect = 1.0
    if kind == 'square':
        points = _polygon(4)
    elif kind == 'triangle':
        points, aspect = _polygon(3), rng.uniform(0.75, 1.33)
    elif kind == 'star':
        points, aspect = _polygon(5, rng.uniform(0.38, 0.5)), rng.uniform(0.8, 1.25)
    elif kind == 'hexagon':
        points, aspect = _polygon(6), rng.uniform(0.8, 1.25)
    elif kind == 'cross':
        points, aspect = _cross(rng.uniform(0.28, 0.42)), rng.uniform(0.8, 1.25)
    else:
        raise ValueError(f'Unknown shape {kind!r}; expected one of {SHAPES_CLASSES}.')
    points = points / np.linalg.norm(points, axis=1).max()  # circumradius 1: fits any rotation
    points = points * np.array([min(aspect, 1.0), min(1.0 / aspect, 1.0)])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    _fill(mask, points @ rot.T * r + c, 1)  # (P, 2) patch pixels
    return mask


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Textured background: (h, w, 3) float32 BGR in [0, 255] (unclipped).

    A colour gradient plus low-frequency texture (both on a coarse grid, upsampled), translucent
    blobs and lines.
    """
    gh, gw = (int(v) for v in rng.integers(3, 9, 2))
    colours = rng.uniform(0, 255, (2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.linspace(0, 1, gw)[None] * np.cos(angle) + np.linspace(0, 1, gh)[:, None] * \
        np.sin(angle)  # (gh, gw)
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    coarse = colours[0] + ramp[..., None] * (colours[1] - colours[0])  # (gh, gw, 3)
    coarse += rng.normal(0, rng.uniform(5, 35), (gh, gw, 3))
    img = cv2.resize(coarse.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    layer = img.copy()
    for _ in range(rng.integers(0, 7)):
        axes = (int(rng.integers(4, w // 3)), int(rng.integers(2, h // 6)))
        cv2.ellipse(layer, (int(rng.integers(0, w)), int(rng.integers(0, h))), axes,
                    float(rng.uniform(0, 180)), 0, 360, rng.uniform(0, 255, 3).tolist(), -1)
    img = cv2.addWeighted(img, 0.5, layer, 0.5, 0)
    for _ in range(rng.integers(0, 9)):
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.line(img, p0, p1, rng.uniform(0, 255, 3).tolist(), int(rng.integers(1, 4)))
    return img


def _object_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour at least a little different from the mean colour ``under`` it: (3,)."""
    for _ in range(8):
        colour = rng.uniform(0, 255, 3).astype(np.float32)
        if np.abs(colour - under).sum() > 90:
            break
    return colour


def render_scene(rng: np.random.Generator, noise: np.ndarray, canvas_scale: float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Draw one scene.

    Args:
        rng: the scene's random source.
        noise: (>= MAX_SIDE, >= MAX_SIDE, 3) float32 standard-normal bank (times
            ``canvas_scale`` when larger than 1); a random window of it, scaled, is the scene's
            sensor noise (cheaper than fresh noise per scene).
        canvas_scale: image sides are the default ones times this, while object sizes keep
            their default distribution (drawn from the default sides) and the number of objects
            grows with the area (up to MAX_OBJECTS x scale², the same density): only the canvas,
            and a model's token grid, changes. 1 gives the default scenes, byte for byte.

    Returns:
        img: (H, W, 3) uint8 BGR.
        seg: (H, W) uint8, 0 = background, 1..K = class of the top-most object.
        objects: per annotated object ``category_id`` (1..K), ``bbox`` [x, y, w, h] of the
            visible part, ``segmentation`` (polygons), ``area`` (visible pixels), ``iscrowd``.
    """
    h0, w0 = (int(v) for v in rng.integers(MIN_SIDE, MAX_SIDE + 1, 2))
    h, w = (h0, w0) if canvas_scale == 1 else (max(round(h0 * canvas_scale), MIN_OBJECT_SIZE_PX),
                                               max(round(w0 * canvas_scale), MIN_OBJECT_SIZE_PX))
    img = _background(rng, h, w)
    inst = np.zeros((h, w), np.uint16)  # index (1-based) of the top-most object, 0 = none
    drawn = []  # (index k, category_id, full area, (x0, y0, x1, y1) region in the image)
    most = MAX_OBJECTS if canvas_scale == 1 else max(round(MAX_OBJECTS * canvas_scale ** 2), 1)
    for k in range(1, int(rng.integers(1, most + 1)) + 1):  # as many per area as by default
        cat = int(rng.integers(len(SHAPES_CLASSES)))
        size = float(np.exp(rng.uniform(np.log(MIN_OBJECT_SIZE), np.log(min(h0, w0) / 2))))
        mask = draw_shape(SHAPES_CLASSES[cat], size, rng)
        side = mask.shape[0]
        px, py = int(rng.integers(0, w)) - side // 2, int(rng.integers(0, h)) - side // 2
        x0, y0, x1, y1 = max(px, 0), max(py, 0), min(px + side, w), min(py + side, h)
        local = mask[y0 - py:y1 - py, x0 - px:x1 - px].astype(bool)
        if not local.any():
            continue
        roi = img[y0:y1, x0:x1]
        colour = _object_colour(rng, roi[local].mean(axis=0))
        shade = np.linspace(-1, 1, x1 - x0, dtype=np.float32)[None, :, None] * \
            rng.uniform(-25, 25, 3).astype(np.float32)  # (1, w', 3) horizontal shading
        roi[local] = (colour + np.broadcast_to(shade, roi.shape))[local]
        inst[y0:y1, x0:x1][local] = k
        drawn.append((k, cat + 1, int(mask.sum()), (x0, y0, x1, y1)))
    ny, nx = (int(rng.integers(0, n - s + 1)) for n, s in zip(noise.shape, (h, w)))
    img = cv2.scaleAdd(noise[ny:ny + h, nx:nx + w], rng.uniform(2, 12), img)
    img = np.clip(img, 0, 255).astype(np.uint8)

    lut = np.zeros(most + 1, np.uint8)
    objects = []
    for k, cat_id, full_area, (x0, y0, x1, y1) in drawn:
        lut[k] = cat_id
        visible = (inst[y0:y1, x0:x1] == k).astype(np.uint8)
        area = int(visible.sum())
        if area == 0:
            continue
        ys, xs = np.nonzero(visible)
        contours, _ = cv2.findContours(visible, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        polygons = [(c.reshape(-1, 2) + (x0, y0)).reshape(-1).tolist() for c in contours
                    if len(c) >= 3]
        bx, by = x0 + int(xs.min()), y0 + int(ys.min())
        bw, bh = int(xs.max() - xs.min()) + 1, int(ys.max() - ys.min()) + 1
        if not polygons:  # only thin slivers: use the box outline
            polygons = [[bx, by, bx + bw, by, bx + bw, by + bh, bx, by + bh]]
        crowd = area < MIN_VISIBLE_FRACTION * full_area or area < MIN_VISIBLE_PIXELS
        objects.append(dict(category_id=cat_id, bbox=[bx, by, bw, bh], segmentation=polygons,
                            area=area, iscrowd=int(crowd)))
    return img, lut[inst], objects


def _clean(out_dir: str) -> None:
    """Remove what an earlier run wrote (only files named like the generator's own)."""
    meta = os.path.join(out_dir, META_FILE)
    if os.path.exists(meta):
        os.remove(meta)
    for det_split, seg_split in _SPLITS:
        for sub in (det_split, f'images/{seg_split}', f'annotations/{seg_split}'):
            folder = os.path.join(out_dir, sub)
            if os.path.isdir(folder):
                for name in os.listdir(folder):
                    if _OWN_FILE.match(name):
                        os.remove(os.path.join(folder, name))


def _write_twice(data: bytes, first: str, second: str) -> None:
    with open(first, 'wb') as f:
        f.write(data)
    try:
        os.link(first, second)
    except OSError:  # file systems without hard links
        with open(second, 'wb') as f:
            f.write(data)


def _generate_split(out_dir: str, split: int, num: int, seed: int,
                    canvas_scale: float = 1.0) -> None:
    det_split, seg_split = _SPLITS[split]
    folders = [os.path.join(out_dir, sub) for sub in (det_split, f'images/{seg_split}',
                                                      f'annotations/{seg_split}')]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    images, annotations = [], []
    side = 2 * MAX_SIDE if canvas_scale <= 1 else int(np.ceil(2 * MAX_SIDE * canvas_scale))
    noise = np.random.default_rng([seed, split]).standard_normal((side, side, 3),
                                                                 dtype=np.float32)
    for index in progress(range(num), desc=f'shapes {det_split}', unit='img'):
        rng = np.random.default_rng([seed, split, index])
        img, seg, objects = render_scene(rng, noise, canvas_scale)
        name = f'{index:06d}'
        ok_jpg, jpg = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        ok_png, png = cv2.imencode('.png', seg)
        if not (ok_jpg and ok_png):
            raise RuntimeError(f'OpenCV could not encode scene {name} of split {det_split}.')
        _write_twice(jpg.tobytes(), os.path.join(folders[0], f'{name}.jpg'),
                     os.path.join(folders[1], f'{name}.jpg'))
        with open(os.path.join(folders[2], f'{name}.png'), 'wb') as f:
            f.write(png.tobytes())
        images.append(dict(id=index + 1, file_name=f'{name}.jpg', height=img.shape[0],
                           width=img.shape[1]))
        for obj in objects:
            annotations.append(dict(id=len(annotations) + 1, image_id=index + 1, **obj))
    coco = dict(
        info=dict(description='vitdense built-in shapes dataset', version=GENERATOR_VERSION,
                  seed=seed, **({} if canvas_scale == 1 else dict(canvas_scale=canvas_scale))),
        licenses=[], images=images, annotations=annotations,
        categories=[dict(id=i + 1, name=name, supercategory='shape')
                    for i, name in enumerate(SHAPES_CLASSES)])
    ann_dir = os.path.join(out_dir, 'annotations')
    with open(os.path.join(ann_dir, f'instances_{det_split}.json'), 'w') as f:
        f.write(json.dumps(coco, separators=(',', ':')))


def generate_shapes(out_dir: str, seed: int = 0, num_train: int = 2000, num_val: int = 300,
                    canvas_scale: float = 1.0) -> None:
    """Write the shapes dataset (COCO and ADE20K layouts) under ``out_dir``.

    ``canvas_scale`` scales the image sides and keeps the objects' size distribution (see
    :func:`render_scene`); a resolution study draws its "canvas" val sets with it. Files of an
    earlier run in ``out_dir`` are replaced; other files are left alone.
    """
    if num_train < 1 or num_val < 1:
        raise ValueError(f'num_train and num_val must be >= 1, got {num_train} and {num_val}.')
    if not 0.1 <= canvas_scale <= 8:
        raise ValueError(f'canvas_scale must be within [0.1, 8], got {canvas_scale}.')
    os.makedirs(os.path.join(out_dir, 'annotations'), exist_ok=True)
    _clean(out_dir)
    for split, num in enumerate((num_train, num_val)):
        _generate_split(out_dir, split, num, seed, canvas_scale)
    meta = dict(generator_version=GENERATOR_VERSION, seed=seed, num_train=num_train,
                num_val=num_val, classes=list(SHAPES_CLASSES))
    if canvas_scale != 1:
        meta['canvas_scale'] = canvas_scale
    with open(os.path.join(out_dir, META_FILE), 'w') as f:
        json.dump(meta, f, indent=1)


def shapes_exists(out_dir: str, seed: Optional[int] = None, num_train: Optional[int] = None,
                  num_val: Optional[int] = None, canvas_scale: float = 1.0) -> bool:
    """Whether ``out_dir`` holds a complete shapes dataset (with these settings, where given)."""
    try:
        with open(os.path.join(out_dir, META_FILE)) as f:
            meta = json.load(f)
        wanted = dict(generator_version=GENERATOR_VERSION, seed=seed, num_train=num_train,
                      num_val=num_val)
        if any(v is not None and meta[k] != v for k, v in wanted.items()):
            return False
        if meta.get('canvas_scale', 1.0) != canvas_scale:
            return False
        for (det_split, seg_split), num in zip(_SPLITS, (meta['num_train'], meta['num_val'])):
            if not os.path.isfile(os.path.join(out_dir, f'annotations/instances_{det_split}.json')):
                return False
            for sub in (det_split, f'images/{seg_split}', f'annotations/{seg_split}'):
                names = os.listdir(os.path.join(out_dir, sub))
                if sum(bool(_OWN_FILE.match(n)) for n in names) != num:
                    return False
    except (OSError, ValueError, KeyError):
        return False
    return True


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/shapes', help='output folder (data/shapes)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=300)
    parser.add_argument('--canvas-scale', type=float, default=1.0,
                        help='image sides times this, object sizes unchanged (1)')
    parser.add_argument('--skip-existing', action='store_true',
                        help='do nothing when --out already holds this dataset, complete')
    args = parser.parse_args(argv)
    if args.skip_existing and shapes_exists(args.out, args.seed, args.num_train, args.num_val,
                                            args.canvas_scale):
        print(f'{args.out} already holds the shapes dataset (seed {args.seed}); skipping.')
        return
    start = time.perf_counter()
    generate_shapes(args.out, args.seed, args.num_train, args.num_val, args.canvas_scale)
    print(f'Wrote {args.num_train} train + {args.num_val} val scenes ({len(SHAPES_CLASSES)} '
          f'classes) to {args.out} in {time.perf_counter() - start:.1f} s.')


if __name__ == '__main__':
    main()

"""Draw predictions on images (OpenCV only): boxes with class and score, colour masks."""
import colorsys
from typing import Sequence

import cv2
import numpy as np


def make_palette(num: int, seed: int = 7) -> list[tuple[int, int, int]]:
    """``num`` well-separated BGR colours, deterministic."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(num) * 0.618033988749895 + rng.random()) % 1.0
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(h, 0.85, 0.95))[::-1] for h in hues]


def bgr_palette(meta: dict) -> list[tuple[int, int, int]] | None:
    """The BGR colours of a dataset's metainfo ``palette`` (RGB, as mmdet/mmseg write it), or
    None when it has none."""
    palette = meta.get('palette')
    return [tuple(int(v) for v in c)[::-1] for c in palette] if palette else None


def text_scale(img: np.ndarray) -> tuple[float, int]:
    """OpenCV font scale and line thickness readable on ``img``: 0.35 and 1 px up to a 320 px
    short side (the shapes images), growing with the short side beyond."""
    grow = max(1.0, min(img.shape[:2]) / 320)
    return 0.35 * grow, max(1, int(round(grow)))


def _caption(img: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int]) -> None:
    """``text`` on a ``color`` (BGR) box whose bottom-left corner is at (x, y), moved down to
    stay inside the image; black text on light colours, white on dark ones."""
    scale, thick = text_scale(img)
    luma = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
    ink = (0, 0, 0) if luma > 110 else (255, 255, 255)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    y = max(y, th + base + 1)
    cv2.rectangle(img, (x, y - th - base - 1), (x + tw + 2, y), color, -1)
    cv2.putText(img, text, (x + 1, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thick,
                cv2.LINE_AA)


def draw_detections(img: np.ndarray, bboxes: np.ndarray, labels: np.ndarray,
                    scores: np.ndarray | None, class_names: Sequence[str], score_thr: float = 0.3,
                    palette: Sequence[tuple[int, int, int]] | None = None,
                    suffix: str = '') -> np.ndarray:
    """Draw boxes (N, 4 xyxy) whose score >= ``score_thr`` with 'class score' captions; with
    ``scores=None`` (ground truth) every box, captioned with its class (and ``suffix``).

    Lines and text grow with images larger than 320 px (:func:`text_scale`).

    Returns a new BGR image; ``img`` is left unchanged.
    """
    out = img.copy()
    palette = palette or make_palette(len(class_names))
    _, thick = text_scale(img)
    for i, (box, label) in enumerate(zip(bboxes, labels)):
        if scores is not None and scores[i] < score_thr:
            continue
        color = tuple(int(c) for c in palette[int(label) % len(palette)])
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thick, cv2.LINE_AA)
        score = '' if scores is None else f' {float(scores[i]):.2f}'
        _caption(out, f'{class_names[int(label)]}{score}{suffix}', x1, y1, color)
    return out


def draw_legend(img: np.ndarray, names: Sequence[str],
                colors: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """A legend in the top-left corner: one line per name, on a box of its (BGR) colour.

    Returns a new BGR image; ``img`` is left unchanged.
    """
    out = img.copy()
    scale, thick = text_scale(img)
    (_, th), base = cv2.getTextSize('Ag', cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    for i, (name, color) in enumerate(zip(names, colors)):
        _caption(out, name, 2, 2 + (i + 1) * (th + base + 3), tuple(int(c) for c in color))
    return out


def draw_segmentation(img: np.ndarray, sem_seg: np.ndarray, num_classes: int,
                      alpha: float = 0.5, ignore_index: int = 255,
                      palette: Sequence[tuple[int, int, int]] | None = None,
                      background_index: int | None = None) -> np.ndarray:
    """Blend a colour per class of ``sem_seg`` (H, W) over ``img`` (H, W, 3).

    Pixels labelled ``ignore_index``, out of range, or ``background_index`` (a dataset's
    background class, its metainfo ``background_index``) are left as they are in ``img``, so
    that only objects are coloured.

    Returns a new BGR image; ``img`` is left unchanged.
    """
    if background_index is not None and not 0 <= background_index < num_classes:
        raise ValueError(f'draw_segmentation: background_index={background_index} is not a '
                         f'class index (0..{num_classes - 1}).')
    palette = np.asarray(palette or make_palette(num_classes), dtype=np.uint8)
    valid = (sem_seg != ignore_index) & (sem_seg < num_classes)
    if background_index is not None:
        valid &= sem_seg != background_index
    color = np.zeros_like(img)
    color[valid] = palette[sem_seg[valid]]
    out = img.copy()
    out[valid] = (img[valid] * (1 - alpha) + color[valid] * alpha).astype(np.uint8)
    return out


def draw_label_map(img: np.ndarray, sem_seg: np.ndarray, class_names: Sequence[str],
                   palette: Sequence[tuple[int, int, int]] | None = None,
                   background_index: int | None = None, alpha: float = 0.5) -> np.ndarray:
    """:func:`draw_segmentation` of ``sem_seg`` (H, W), then a :func:`draw_legend` of the classes
    it holds that are coloured (not ``background_index``, not ignored or out of range).

    Returns a new BGR image; ``img`` is left unchanged.
    """
    palette = palette or make_palette(len(class_names))
    out = draw_segmentation(img, sem_seg, len(class_names), alpha, palette=palette,
                            background_index=background_index)
    shown = [int(v) for v in np.unique(sem_seg)
             if 0 <= v < len(class_names) and v != background_index]
    return draw_legend(out, [class_names[i] for i in shown], [palette[i] for i in shown])

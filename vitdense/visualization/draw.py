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


def draw_detections(img: np.ndarray, bboxes: np.ndarray, labels: np.ndarray, scores: np.ndarray,
                    class_names: Sequence[str], score_thr: float = 0.3,
                    palette: Sequence[tuple[int, int, int]] | None = None) -> np.ndarray:
    """Draw boxes (N, 4 xyxy) whose score >= ``score_thr`` with 'class score' captions.

    Returns a new BGR image; ``img`` is left unchanged.
    """
    out = img.copy()
    palette = palette or make_palette(len(class_names))
    for box, label, score in zip(bboxes, labels, scores):
        if score < score_thr:
            continue
        color = tuple(int(c) for c in palette[int(label) % len(palette)])
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 1, cv2.LINE_AA)
        caption = f'{class_names[int(label)]} {float(score):.2f}'
        (tw, th), _ = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
        ty = max(y1, th + 2)
        cv2.rectangle(out, (x1, ty - th - 2), (x1 + tw + 2, ty), color, -1)
        cv2.putText(out, caption, (x1 + 1, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                    cv2.LINE_AA)
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

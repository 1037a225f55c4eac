"""Image files named on a command line: folders expanded, each file read or a clear error."""
import os
import os.path as osp
from typing import Sequence

import cv2
import numpy as np

# What OpenCV decodes, as lower-case suffixes: what a folder is searched for.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


def expand_image_paths(inputs: Sequence[str]) -> list[str]:
    """Files and folders -> image files: a file as given, a folder's images (by suffix, in
    sub-folders too, sorted). Repeated files are kept once, in first-seen order.

    Raises:
        FileNotFoundError: an input that does not exist, or a folder without images.
    """
    found: list[str] = []
    for item in inputs:
        if osp.isfile(item):
            found.append(item)
        elif osp.isdir(item):
            images = sorted(osp.join(root, name) for root, _, names in os.walk(item)
                            for name in names if name.lower().endswith(IMAGE_SUFFIXES))
            if not images:
                raise FileNotFoundError(f'Folder {item!r} has no images (searched for '
                                        f"{', '.join(IMAGE_SUFFIXES)}, in sub-folders too).")
            found.extend(images)
        else:
            raise FileNotFoundError(f'{item!r} is neither an image file nor a folder.')
    return list(dict.fromkeys(found))


def read_image(path: str) -> np.ndarray:
    """The image at ``path`` as (H, W, 3) uint8 BGR: grey images get 3 channels, an alpha
    channel is dropped, 16-bit images are scaled to 8 bits (OpenCV's ``IMREAD_COLOR``).

    Raises:
        ValueError: OpenCV cannot decode the file.
    """
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'Cannot read {path!r} as an image: OpenCV could not decode it (not '
                         f"an image, truncated, or a format without a codec). Use one of "
                         f"{', '.join(IMAGE_SUFFIXES)}, or leave the file out.")
    return img


def unique_stems(paths: Sequence[str]) -> list[str]:
    """A file name without suffix per path, ``_1``, ``_2``... appended to repeats (two folders
    holding ``0001.jpg``), so outputs named after them do not overwrite each other."""
    stems, seen = [], set()
    for path in paths:
        stem = base = osp.splitext(osp.basename(path))[0]
        n = 0
        while stem in seen:
            n += 1
            stem = f'{base}_{n}'
        seen.add(stem)
        stems.append(stem)
    return stems

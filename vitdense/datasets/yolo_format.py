"""The YOLO (Ultralytics) detection format on disk: the data YAML, image lists, label files.

Layout, as Ultralytics and the labelling tools that export to it (CVAT, Label Studio, Roboflow)
write it::

    <path>/data.yaml              path: .   train: images/train   val: images/val   names: [...]
    <path>/images/train/x.jpg  <->  <path>/labels/train/x.txt
    <path>/images/val/y.png    <->  <path>/labels/val/y.txt

A label file holds one object per line, ``class cx cy w h``: the class index into ``names`` and
the box centre, width and height as fractions (0..1) of the image width and height. The label
file of an image is found as Ultralytics finds it: the last ``/images/`` folder of the image path
becomes ``/labels/`` and the extension ``.txt`` (Roboflow's ``train/images`` <-> ``train/labels``
works the same way). An image without a label file, or with an empty one, has no objects (a
background image), as in Ultralytics.

Everything here is a pure function of the files, so the checks are unit tested on their own;
:class:`vitdense.datasets.yolo.YoloDataset` turns the result into ``data_list`` entries.
"""
import math
import os
from dataclasses import dataclass

import numpy as np
import yaml
from PIL import Image

# Ultralytics' image suffixes (lower case), the ones it lists as IMG_FORMATS for detection.
IMAGE_EXTENSIONS = ('.bmp', '.dng', '.jpeg', '.jpg', '.mpo', '.png', '.tif', '.tiff', '.webp',
                    '.pfm', '.heic')
SPLITS = ('train', 'val', 'test')
# Coordinates are checked against 0..1 with this slack, for writers that print 1.0000001.
COORD_TOLERANCE = 1e-6
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED = (5, 6, 7, 8)  # EXIF orientations that rotate by 90 degrees: width and height swap


@dataclass
class YoloData:
    """What a data YAML says.

    Attributes:
        yaml_path: the YAML file.
        root: the dataset folder (``path:``, relative to the YAML's folder; the YAML's folder
            when absent).
        names: class names, index = class number in the label files.
        splits: ``split -> list of sources`` (folders or ``.txt`` image lists), absolute.
    """

    yaml_path: str
    root: str
    names: tuple[str, ...]
    splits: dict[str, list[str]]


def _class_names(names: object, yaml_path: str) -> tuple[str, ...]:
    """``names:`` as a list, or as a dict ``{0: a, 1: b}`` with keys exactly 0..K-1."""
    if isinstance(names, dict):
        keys = sorted(names)
        if not all(isinstance(k, int) for k in keys) or keys != list(range(len(keys))):
            raise ValueError(f"Data YAML '{yaml_path}': the keys of 'names' must be the class "
                             f'numbers 0..K-1 without gaps, got {keys}.')
        names = [names[k] for k in keys]
    if not isinstance(names, (list, tuple)) or not names:
        raise ValueError(f"Data YAML '{yaml_path}': 'names' must be a non-empty list of class "
                         f'names or a dict {{0: name, 1: name, ...}}, got {names!r}.')
    names = tuple(str(n) for n in names)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"Data YAML '{yaml_path}': class names {dup} appear more than once in "
                         "'names'; each class needs its own name.")
    return names


def read_data_yaml(yaml_path: str) -> YoloData:
    """Read an Ultralytics data YAML (``path``, ``train``, ``val``, ``test``, ``names``, ``nc``).

    ``train`` / ``val`` / ``test`` are a folder, a ``.txt`` list of images, or a list of those,
    relative to ``path``. ``nc``, when present, must equal the number of names.

    Raises:
        FileNotFoundError: the YAML does not exist.
        ValueError: it is not a mapping, or ``names`` / ``nc`` / a split entry is malformed.
    """
    if not os.path.isfile(yaml_path):
        raise FileNotFoundError(f"Data YAML '{yaml_path}' does not exist. A YOLO dataset needs "
                                "one: 'path: <dataset folder>', 'train: images/train', "
                                "'val: images/val', 'names: [class0, class1, ...]' (see "
                                'docs/get_started.md).')
    with open(yaml_path, encoding='utf-8') as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ValueError(f"Data YAML '{yaml_path}' is not valid YAML: {err}") from err
    if not isinstance(data, dict) or 'names' not in data:
        raise ValueError(f"Data YAML '{yaml_path}' has no 'names' key (the class names); it is "
                         'not an Ultralytics data YAML.')
    names = _class_names(data['names'], yaml_path)
    if 'nc' in data and data['nc'] != len(names):
        raise ValueError(f"Data YAML '{yaml_path}': nc={data['nc']} but 'names' has "
                         f'{len(names)} classes; make them agree (or drop nc).')
    here = os.path.dirname(os.path.abspath(yaml_path))
    root = os.path.join(here, str(data.get('path') or '.'))
    splits = {}
    for split in SPLITS:
        value = data.get(split)
        if value is None:
            continue
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, str) for s in sources):
            raise ValueError(f"Data YAML '{yaml_path}': '{split}' must be a folder, a .txt list "
                             f'of images, or a list of those; got {value!r}.')
        splits[split] = [os.path.normpath(os.path.join(root, s)) for s in sources]
    return YoloData(yaml_path, os.path.normpath(root), names, splits)


def list_images(data: YoloData, split: str) -> list[str]:
    """The image files of ``split``, sorted: folders are searched recursively for image
    suffixes; a ``.txt`` source lists one image per line (relative to the ``.txt``'s folder)."""
    if split not in data.splits:
        raise ValueError(f"Data YAML '{data.yaml_path}' has no '{split}' entry (it has "
                         f'{sorted(data.splits)}); add e.g. "{split}: images/{split}" or choose '
                         'another split.')
    images = []
    for source in data.splits[split]:
        if os.path.isdir(source):
            for folder, _, files in os.walk(source):
                images += [os.path.join(folder, f) for f in files
                           if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
        elif os.path.isfile(source) and source.endswith('.txt'):
            base = os.path.dirname(source)
            with open(source, encoding='utf-8') as f:
                images += [os.path.normpath(os.path.join(base, line.strip())) for line in f
                           if line.strip()]
        else:
            raise FileNotFoundError(f"Data YAML '{data.yaml_path}': the '{split}' source "
                                    f"'{source}' is neither a folder nor a .txt image list "
                                    f"(resolved against path '{data.root}').")
    return sorted(images)


def label_path(img_path: str) -> str:
    """The label file of an image: the last ``/images/`` becomes ``/labels/``, suffix ``.txt``."""
    sep_images, sep_labels = f'{os.sep}images{os.sep}', f'{os.sep}labels{os.sep}'
    path = sep_labels.join(img_path.rsplit(sep_images, 1))
    return os.path.splitext(path)[0] + '.txt'


def image_size(img_path: str) -> tuple[int, int]:
    """``(width, height)`` of an image as the loaders see it (after its EXIF rotation, which
    OpenCV applies on decoding), read from the file header only."""
    try:
        with Image.open(img_path) as img:
            width, height = img.size
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    except FileNotFoundError:
        raise FileNotFoundError(f"Image '{img_path}' (listed by the data YAML) does not "
                                'exist.') from None
    except OSError as err:
        raise ValueError(f"Image '{img_path}' cannot be read ({err}); remove it from the "
                         'dataset or replace it.') from err
    return (height, width) if orientation in _TRANSPOSED else (width, height)


def _number(token: str, path: str, line_no: int, line: str) -> float:
    try:
        value = float(token)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"Label file '{path}', line {line_no}: '{token}' is not a finite "
                         f"number (line: '{line}'). Each line is 'class cx cy w h'.")
    return value


def read_label_file(path: str, num_classes: int) -> np.ndarray:
    """One label file as an (N, 5) float64 array of ``class, cx, cy, w, h`` rows.

    Blank lines are skipped; a missing file means no objects.

    Raises:
        ValueError: naming the file and line, for a line without exactly 5 fields, a field that
            is not a finite number, a class that is not an integer in ``0..num_classes-1``, or a
            coordinate outside 0..1.
    """
    if not os.path.isfile(path):
        return np.zeros((0, 5))
    rows = []
    with open(path, encoding='utf-8') as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 5:
                polygon = len(fields) >= 7 and len(fields) % 2 == 1
                hint = (' It looks like a polygon (class x1 y1 x2 y2 ...) from a segmentation '
                        'export; YoloDataset reads boxes: export boxes instead.' if polygon
                        else '')
                raise ValueError(f"Label file '{path}', line {line_no}: expected 5 fields "
                                 f"'class cx cy w h', got {len(fields)} ('{line}').{hint}")
            values = [_number(t, path, line_no, line) for t in fields]
            cls = values[0]
            if not cls.is_integer() or not 0 <= cls < num_classes:
                raise ValueError(f"Label file '{path}', line {line_no}: class '{fields[0]}' is "
                                 f'not a class number 0..{num_classes - 1} (the data YAML has '
                                 f"{num_classes} names); fix the line or the YAML's names.")
            for name, token, value in zip(('cx', 'cy', 'w', 'h'), fields[1:], values[1:]):
                if not -COORD_TOLERANCE <= value <= 1 + COORD_TOLERANCE:
                    raise ValueError(f"Label file '{path}', line {line_no}: {name}={token} is "
                                     'outside 0..1; YOLO boxes are fractions of the image size '
                                     '(divide pixel values by the image width / height).')
            rows.append(values)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 5)


def yolo_to_xywh(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 5) ``class, cx, cy, w, h`` (fractions) -> (N, 4) pixel ``x, y, w, h`` (COCO boxes)."""
    scale = np.asarray([width, height, width, height], dtype=np.float64)
    cxcywh = np.clip(rows[:, 1:5], 0.0, 1.0) * scale  # (N, 4) pixels
    return np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, 2:]], axis=1)  # (N, 4)

"""A small shapes dataset generated once per test session (never into data/)."""
import pytest

from vitdense.datasets.coco_to_yolo import coco_to_yolo
from vitdense.datasets.shapes import generate_shapes

NUM_TRAIN, NUM_VAL = 12, 6


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), seed=3, num_train=NUM_TRAIN, num_val=NUM_VAL)
    return str(root)


@pytest.fixture(scope='session')
def shapes_yolo_root(shapes_root: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's shapes data, both splits, in the YOLO layout (crowd boxes left out)."""
    root = str(tmp_path_factory.mktemp('shapes_yolo'))
    for split in ('train', 'val'):
        coco_to_yolo(f'{shapes_root}/annotations/instances_{split}.json', f'{shapes_root}/{split}',
                     root, split)
    return root

"""A small shapes dataset generated once per test session (never into data/)."""
import pytest

from vitdense.datasets.shapes import generate_shapes

NUM_TRAIN, NUM_VAL = 12, 6


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), seed=3, num_train=NUM_TRAIN, num_val=NUM_VAL)
    return str(root)

"""Suite-wide fixtures."""
import os
import re
from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and slow down badly when the cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def restore_environment():
    """What a test sets in ``os.environ`` ends with it. Code under test may set variables the
    way a launched process would (``LOCAL_RANK`` from tools/train.py's parser, ``RANK`` and
    ``WORLD_SIZE`` from the slurm and mpi translations); left behind, they reach every process a
    later test starts: a leaked ``RANK=3`` made both ranks of a slurm launch rank 3, which hung."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


PLUGINS_DOC = Path(__file__).resolve().parents[1] / 'docs' / 'plugins.md'


@pytest.fixture
def plugins_doc_block():
    """``block(name)``: the python code block of docs/plugins.md whose first line is
    ``# <name>``, for the tests that run the page's examples as written."""
    def block(name: str) -> str:
        blocks = re.findall(r'```python\n(.*?)```', PLUGINS_DOC.read_text(), flags=re.S)
        matches = [b for b in blocks if b.startswith(f'# {name}\n')]
        assert len(matches) == 1, f'docs/plugins.md has {len(matches)} code blocks named {name}'
        return matches[0]
    return block

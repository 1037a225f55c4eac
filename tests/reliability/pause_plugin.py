"""Test-only hook, loaded into tools/train.py subprocesses through ``custom_imports``: it stops a
training run at a chosen iteration so that a test can kill it there (a deterministic kill point).
"""
import time
from pathlib import Path

from mmengine.hooks import Hook

from vitdense.registry import HOOKS


@HOOKS.register_module()
class PauseAtIterHook(Hook):
    """Before iteration ``at_iter + 1`` (``at_iter`` finished), create ``marker`` and sleep until
    killed."""

    def __init__(self, at_iter: int, marker: str):
        self.at_iter = at_iter
        self.marker = marker

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.at_iter:
            Path(self.marker).touch()
            while True:
                time.sleep(1)

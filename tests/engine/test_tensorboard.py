"""TensorBoard as an optional visualisation backend from config: a 3-iteration training with
the lines of docs/get_started.md writes TensorBoard event files holding the loss scalars (next to
the LocalVisBackend's scalars.json, which stays). Skipped where tensorboard is not installed."""
import glob
import json
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from vitdense.apis import load_config
from vitdense.datasets.shapes import generate_shapes

event_accumulator = pytest.importorskip(
    'tensorboard.backend.event_processing.event_accumulator',
    reason='tensorboard is not installed (pip install tensorboard)')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/cls/cls_vit-t-hybrid_1xb64-demo_shapes-crops.py')
DOC = osp.join(ROOT, 'docs/get_started.md')
ITERS = 3


def documented_visualizer() -> dict:
    """The ``visualizer = ...`` line of docs/get_started.md's TensorBoard section, evaluated."""
    text = open(DOC).read().split('## TensorBoard', 1)[1]
    block = re.search(r'```python\n(.*?)```', text, flags=re.S).group(1)
    scope: dict = {}
    exec(block, {}, scope)  # the config lines exactly as the page shows them
    return scope['visualizer']


def test_training_writes_loss_scalars_to_tensorboard(tmp_path):
    data = tmp_path / 'shapes'
    generate_shapes(str(data), seed=3, num_train=8, num_val=2)
    cfg = load_config(CONFIG)
    cfg.merge_from_dict({
        'model.backbone.arch': 'test', 'model.backbone.init_cfg': None, 'model.init_cfg': None,
        'train_cfg.max_iters': ITERS, 'train_cfg.val_interval': 100,
        'default_hooks.logger.interval': 1, 'default_hooks.checkpoint.interval': 100,
        'param_scheduler.0.end': 1,
        'train_dataloader.batch_size': 4, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': str(data) + '/',
        # a fresh name: mmengine reuses the visualizer (and its folder) of an earlier Runner
        'visualizer': dict(documented_visualizer(), name=f'tensorboard-{tmp_path}')})
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.work_dir = str(tmp_path / 'work')
    Runner.from_cfg(Config(cfg.to_dict())).train()

    events = glob.glob(osp.join(cfg.work_dir, '*', 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1
    acc = event_accumulator.EventAccumulator(events[0])
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert {'loss', 'loss_cls', 'lr'} <= set(tags)
    losses = acc.Scalars('loss')
    assert [e.step for e in losses] == list(range(1, ITERS + 1))
    assert all(e.value > 0 for e in losses)
    # The local backend's scalars.json is still written, with the same losses.
    with open(glob.glob(osp.join(cfg.work_dir, '*', 'vis_data', 'scalars.json'))[0]) as f:
        local = [json.loads(line)['loss'] for line in f if '"loss"' in line]
    assert local == pytest.approx([e.value for e in losses], rel=1e-6)

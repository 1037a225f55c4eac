"""Fixtures of the tool tests: a tiny shapes set, configs of tiny models reading it, their
random-init checkpoints, a short real training (helpers: ``tool_helpers.py``)."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vitdense.apis import init_model, load_config
from vitdense.datasets.shapes import generate_shapes

ROOT = Path(__file__).resolve().parents[2]
# The demo configs, with ViT 'test' (width 32, depth 2) and no pretrained backbone.
DEMO = {'det': 'configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py',
        'seg': 'configs/fpnseg/fpnseg_vit-t-hybrid_1xb4-demo_shapes.py'}


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 training and 3 validation shapes scenes (160-384 px a side), both layouts."""
    root = tmp_path_factory.mktemp('tools_shapes')
    generate_shapes(str(root), seed=3, num_train=4, num_val=3)
    return root


@pytest.fixture(scope='session')
def tiny_configs(shapes_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``{'det': path, 'seg': path}``: leaf configs on the demo ones, tiny, reading
    ``shapes_root``."""
    out = tmp_path_factory.mktemp('tools_configs')
    configs = {}
    for kind, base in DEMO.items():
        data = f"dict(dataset=dict(data_root='{shapes_root}/'), num_workers=0, " \
               'persistent_workers=False)'
        lines = [f"_base_ = ['{ROOT / base}']",
                 "model = dict(backbone=dict(arch='test', init_cfg=None), init_cfg=None)",
                 f'train_dataloader = {data}', f'val_dataloader = {data}',
                 f'test_dataloader = {data}']
        if kind == 'det':  # a random-init FCOS scores ~0.01: keep its 20 best boxes
            lines[1] = ("model = dict(backbone=dict(arch='test', init_cfg=None), init_cfg=None, "
                        'bbox_head=dict(score_thr=0.0, max_per_img=20))')
            ann = f"'{shapes_root}/annotations/instances_val.json'"
            lines += [f'val_evaluator = dict(ann_file={ann})',
                      f'test_evaluator = dict(ann_file={ann})']
        path = out / f'tiny_{kind}.py'
        path.write_text('\n'.join(lines) + '\n')
        configs[kind] = str(path)
    return configs


@pytest.fixture(scope='session')
def tiny_checkpoints(tiny_configs: dict[str, str],
                     tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Random-init checkpoints of the tiny configs (seeded), as mmengine saves them."""
    out = tmp_path_factory.mktemp('tools_checkpoints')
    paths = {}
    for kind, config in tiny_configs.items():
        torch.manual_seed(0)
        model = init_model(load_config(config))
        paths[kind] = str(out / f'{kind}.pth')
        torch.save({'state_dict': model.state_dict(), 'meta': {}}, paths[kind])
    return paths


@pytest.fixture(scope='session')
def photographs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three photographs from scikit-image's sample data, as JPEG and PNG files: astronaut
    (512 x 512), coffee (400 x 600), chelsea the cat (300 x 451)."""
    data = pytest.importorskip('skimage.data')
    out = tmp_path_factory.mktemp('photographs')
    paths = []
    for name, suffix in (('astronaut', '.jpg'), ('coffee', '.png'), ('chelsea', '.jpg')):
        rgb = np.asarray(getattr(data, name)())
        paths.append(str(out / f'{name}{suffix}'))
        cv2.imwrite(paths[-1], cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return paths


@pytest.fixture(scope='session')
def trained_det(tiny_configs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny detector trained for 4 iterations (logged each, validated at 2 and 4) by
    mmengine's Runner, then tested with ``--out``: ``work_dir``, ``scalars`` (its
    scalars.json), ``checkpoint`` and ``predictions`` (tools/test.py's pickle)."""
    from mmengine.runner import Runner

    from vitdense.apis import prepare_test_cfg, prepare_train_cfg
    work_dir = tmp_path_factory.mktemp('trained_det')
    options = {'train_cfg.max_iters': 4, 'train_cfg.val_interval': 2,
               'train_dataloader.batch_size': 2, 'default_hooks.logger.interval': 1,
               'param_scheduler': [],
               # mmengine keeps one Visualizer per name for the process: an earlier test's would
               # write this run's scalars.json into that test's work dir.
               'visualizer.name': f'visualizer_{work_dir.name}'}
    Runner.from_cfg(prepare_train_cfg(tiny_configs['det'], str(work_dir),
                                      cfg_options=options)).train()
    checkpoint = str(work_dir / 'iter_4.pth')
    predictions = str(work_dir / 'predictions.pkl')
    Runner.from_cfg(prepare_test_cfg(tiny_configs['det'], checkpoint, str(work_dir / 'test'),
                                     out=predictions)).test()
    (scalars, ) = work_dir.glob('*/vis_data/scalars.json')
    return dict(work_dir=str(work_dir), scalars=str(scalars), checkpoint=checkpoint,
                predictions=predictions)

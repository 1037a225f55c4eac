"""tools/analysis/resolution_sweep.py: zoom and canvas configs, a real sweep of a tiny detector
and segmentor, resumption, and the files it writes."""
import json
import os.path as osp
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from vitdense.apis import load_config
from vitdense.apis.resolution import canvas_cfg, sweep_cfg, zoom_cfg
from vitdense.datasets.shapes import generate_shapes
from vitdense.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
import resolution_sweep  # noqa: E402

DET = str(ROOT / 'configs/fcos/fcos_vit-t-hybrid_1xb4-demo_shapes.py')
SEG = str(ROOT / 'configs/fpnseg/fpnseg_vit-t-hybrid_1xb4-demo_shapes.py')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('shapes'))
    generate_shapes(root, seed=3, num_train=1, num_val=3)
    return root + '/'


def tiny(config: str, data_root: str, tmp: Path, name: str) -> tuple[str, str]:
    """The demo config with a tiny backbone on ``data_root``, and a random checkpoint."""
    cfg = load_config(config)
    cfg.model.backbone.update(arch='test', init_cfg=None)
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.test_dataloader.dataset.data_root = data_root
    if cfg.test_evaluator.get('ann_file'):
        cfg.test_evaluator.ann_file = data_root + 'annotations/instances_val.json'
    path = str(tmp / f'{name}.py')
    cfg.dump(path)
    with DefaultScope.overwrite_default_scope('vitdense'):
        model = MODELS.build(load_config(path).model)
    ckpt = str(tmp / f'{name}.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    return path, ckpt


def test_zoom_appends_a_resize_after_the_configs_own():
    cfg = load_config(SEG)
    out = zoom_cfg(cfg, 1.5, aspect=4.0)
    pipeline = out.test_dataloader.dataset.pipeline
    types = [t['type'] for t in pipeline]
    assert types == ['LoadImageFromFile', 'Resize', 'Resize', 'LoadAnnotations', 'PackSegInputs']
    assert pipeline[2]['scale_factor'] == pytest.approx((3.0, 0.75))
    assert len(cfg.test_dataloader.dataset.pipeline) == 4  # the input config is not changed


def test_canvas_points_data_and_evaluator_at_the_canvas_set():
    cfg = load_config(DET)
    out = canvas_cfg(cfg, 2.0, '/tmp/canvas_2')
    assert out.test_dataloader.dataset.data_root == '/tmp/canvas_2/'
    assert out.test_evaluator.ann_file == '/tmp/canvas_2/annotations/instances_val.json'
    resize = [t for t in out.test_dataloader.dataset.pipeline if t['type'] == 'Resize']
    (before, ) = [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'Resize']
    w, h = before['scale']
    assert resize == [dict(type='Resize', scale=(2 * w, 2 * h), keep_ratio=True)]


def test_bad_requests_are_named():
    cfg = load_config(SEG)
    with pytest.raises(ValueError, match='with --mode zoom'):
        sweep_cfg(cfg, 'canvas', 2.0, 2.0, '/tmp/c', 'x.py')
    with pytest.raises(ValueError, match="mode must be one of .*'warp'"):
        sweep_cfg(cfg, 'warp', 2.0, 1.0, None, 'x.py')
    cfg.test_dataloader.dataset.type = 'ADE20KDataset'
    with pytest.raises(ValueError, match="x.py: canvas mode .*'ADE20KDataset'"):
        canvas_cfg(cfg, 2.0, '/tmp/c', 'x.py')
    del cfg.test_dataloader.dataset.pipeline[1]
    with pytest.raises(KeyError, match='x.py: the test pipeline has no Resize'):
        zoom_cfg(cfg, 2.0, where='x.py')
    with pytest.raises(SystemExit):
        resolution_sweep.parse_args([DET])  # no checkpoint


def test_a_sweep_of_a_detector_and_a_segmentor(shapes, tmp_path, monkeypatch):
    det = tiny(DET, shapes, tmp_path, 'det')
    seg = tiny(SEG, shapes, tmp_path, 'seg')
    out = str(tmp_path / 'sweep')
    args = [*det, *seg, '--names', 'det', 'seg', '--scales', '0.5', '1', '--mode', 'zoom',
            'canvas', '--max-images', '2', '--out-dir', out]
    points = resolution_sweep.main(args)
    assert len(points) == 2 * 2 * 2
    by_key = {(p.model, p.mode, p.scale): p for p in points}
    assert by_key['det', 'zoom', 1.0].metric == 'coco/bbox_mAP'
    assert by_key['seg', 'canvas', 0.5].metric == 'mIoU'
    seg_scores = [p.value for p in points if p.model == 'seg']
    assert all(0 <= v <= 100 for v in seg_scores)
    # the canvas set at 0.5 was drawn with half-size images, two of them (--max-images)
    with open(osp.join(out, 'canvas_0.5', 'annotations', 'instances_val.json')) as f:
        images = json.load(f)['images']
    with open(osp.join(shapes, 'annotations', 'instances_val.json')) as f:
        default = json.load(f)['images']
    assert len(images) == 2
    assert images[0]['height'] == round(default[0]['height'] * 0.5)
    rows = open(osp.join(out, 'sweep.csv')).read().splitlines()
    assert rows[0] == 'model,mode,scale,aspect,metric,value' and len(rows) == 9
    png = cv2.imread(osp.join(out, 'sweep.png'))
    assert png is not None and png.shape[1] > 800 and png.std() > 10  # two panels, not blank

    calls = []  # a second run finds every point done, and evaluates nothing
    monkeypatch.setattr(resolution_sweep, 'evaluate', lambda *a: calls.append(a) or {})
    again = resolution_sweep.main(args)
    assert calls == [] and [p.value for p in again] == [p.value for p in points]
    assert np.isfinite([p.value for p in again]).all()

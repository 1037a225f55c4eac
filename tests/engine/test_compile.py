"""``compile=`` from config, through the real CLI: the demo detector and segmentor train and
validate with their backbone, neck and head compiled, at several input sizes (dynamic shapes),
and log the losses and metrics of the same run in eager mode.

Both run on the ``eager`` backend: dynamo's capture, guards and graph breaks over the real
modules, 3-4x quicker to trace than ``aot_eager``. On ``aot_eager`` (AOTAutograd's forward and
backward graphs as inductor would receive them) both also matched eager (one-off runs,
2026-12-02), but it took 91 s of the suite for the detector alone, which the suite's 15 minutes
cannot hold. Inductor's own code generation (minutes per model on two cores) is not exercised by
the suite; docs/benchmarks.md times it."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from test_end_to_end import ROOT, tiny_overrides

from vitdense.apis.demo import demo_job
from vitdense.datasets.shapes import generate_shapes
from vitdense.engine.compile import compile_options


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), seed=3, num_train=12, num_val=3)
    return str(root) + '/'


def train_both(config: str, data_root: str, works: dict[str, list[str]]) -> dict[str, list[dict]]:
    """For each work dir and its extra options: 2 iterations of batch 2 (random resizes: 4
    input sizes) and a validation of 3 images from scratch, the runs side by side (one thread
    each: they are independent); the logged scalars of each."""
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    procs = {}
    for work, extra in works.items():
        opts = tiny_overrides(config, data_root, iters=2) + [
            'model.init_cfg=None', 'model.backbone.init_cfg=None', *extra]
        procs[work] = subprocess.Popen(
            [sys.executable, 'tools/train.py', config, '--work-dir', work, '--cfg-options',
             *opts], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    scalars = {}
    for work, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-4000:]
        with open(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))[0]) as f:
            scalars[work] = [json.loads(line) for line in f if line.strip()]
    return scalars


def logged_log(work: str) -> str:
    with open(glob.glob(osp.join(work, '*', '*.log'))[0]) as f:
        return f.read()


@pytest.mark.slow
@pytest.mark.parametrize('job, backend, parts, metric', [
    ('detector', 'eager', 'backbone, neck, bbox_head', 'coco/bbox_mAP'),
    ('segmentor', 'eager', 'backbone, decode_head', 'mIoU')])  # SETR-MLA: no neck
def test_compile_from_config_trains_and_validates_as_eager(job, backend, parts, metric,
                                                          shapes_root, tmp_path):
    config = demo_job(job).config
    extra = [f'{split}_evaluator.ann_file={shapes_root}annotations/instances_val.json'
             for split in ('val', 'test') if job == 'detector']
    runs = train_both(config, shapes_root, {
        str(tmp_path / 'eager'): extra,
        str(tmp_path / 'compiled'): [*extra, f'compile.backend={backend}', 'compile.dynamic=True']})
    eager, compiled = runs[str(tmp_path / 'eager')], runs[str(tmp_path / 'compiled')]
    assert f"torch.compile({{'backend': '{backend}', 'dynamic': True}}) on {parts}" in \
        logged_log(str(tmp_path / 'compiled'))
    losses = [(e['loss'], c['loss']) for e, c in zip(eager, compiled) if 'loss' in e]
    assert len(losses) == 2
    for e, c in losses:
        assert c == pytest.approx(e, rel=1e-4)
    assert compiled[-1][metric] == pytest.approx(eager[-1][metric], abs=1e-6)


@pytest.mark.parametrize('cfg, options', [(True, {'dynamic': False}),
                                          ({'backend': 'eager'}, {'dynamic': False,
                                                                  'backend': 'eager'}),
                                          ({'dynamic': True}, {'dynamic': True}),
                                          (False, None), (None, None)])
def test_compile_from_config_is_static_unless_asked(cfg, options):
    assert compile_options(cfg) == options

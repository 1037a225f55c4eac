"""A few iterations of train, resume and test through the real CLI, for every task, chained as
`make demo` chains them: the detector starts from the crop pretraining's backbone, the
segmentor from the detector's."""
import glob
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
from tiny_models import as_cli, tiny_model_options

from vitdense.apis import load_config
from vitdense.apis.demo import (
    COLUMNS,
    DEMO_JOBS,
    demo_job,
    format_table,
    last_checkpoint,
    read_test_metrics,
)
from vitdense.datasets.shapes import generate_shapes

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), seed=3, num_train=12, num_val=6)
    return str(root) + '/'


def tiny_overrides(config: str, data_root: str, iters: int) -> list[str]:
    opts = {
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': iters,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'param_scheduler.0.end': 1,
        'param_scheduler.1.begin': 1,  # the cosine ends at max_iters
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.batch_size': 3,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
    }
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = data_root
    return as_cli(tiny_model_options(config)) + [f'{k}={v}' for k, v in opts.items()]


def run_tool(*args: str) -> None:
    env = dict(os.environ, PYTHONPATH=ROOT)
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, timeout=600)


@pytest.fixture(scope='module')
def trained_jobs(shapes_root, tmp_path_factory) -> dict[str, str]:
    """Every demo job, 2 iterations, in the demo's order, each starting from the work dir of
    the job it names (``backbone_from``): job name -> work dir."""
    works = {}
    for job in DEMO_JOBS:
        works[job.name] = str(tmp_path_factory.mktemp(job.name))
        run_tool('tools/train.py', job.config, '--work-dir', works[job.name], '--amp',
                 '--cfg-options', *job_options(job, shapes_root, works))
    return works


def loads_whole_model(job) -> bool:
    """Whether the job's config starts the whole model (else its backbone) from a checkpoint."""
    return bool(load_config(job.config).model.get('init_cfg'))


def job_options(job, shapes_root: str, works: dict[str, str]) -> list[str]:
    """A job's 2-iteration tiny overrides, its init pointing at the work dir of the job it
    starts from, and for the detector the val annotations of the tiny data."""
    opts = tiny_overrides(job.config, shapes_root, iters=2)
    if len(load_config(job.config).param_scheduler) == 1:  # the pretraining: warm-up only
        opts = [o for o in opts if not o.startswith('param_scheduler.1.')]
    if job.backbone_from:
        opts.append(f"model{'' if loads_whole_model(job) else '.backbone'}.init_cfg.checkpoint="
                    f"{works[job.backbone_from]}")
    if job.name == 'detector':
        opts += [f'{split}_evaluator.ann_file={shapes_root}annotations/instances_val.json'
                 for split in ('val', 'test')]
    return opts


DENSE_JOBS = [job for job in DEMO_JOBS if job.backbone_from]


def test_pretraining_logs_its_loss_accuracy_and_training_minutes(trained_jobs):
    scalars = glob.glob(osp.join(trained_jobs['pretrain'], '*', 'vis_data', 'scalars.json'))
    with open(scalars[0]) as f:
        logged = [json.loads(line) for line in f if line.strip()]
    assert sum('loss_cls' in line for line in logged) == 2
    val = [line for line in logged if 'accuracy/top1' in line]
    assert len(val) == 1 and 0 <= val[0]['accuracy/top1'] <= 100
    assert val[0]['train_minutes'] > 0  # TrainTimeHook, for learning curves against time


def test_demo_jobs_chain_to_existing_jobs():
    names = [job.name for job in DEMO_JOBS]
    for job in DENSE_JOBS:
        assert job.backbone_from in names[:names.index(job.name)]


def test_demo_jobs_load_the_backbone_from_the_work_dir_the_demo_trains_it_in():
    """`make demo` trains each job in tools/train.py's default work dir; a dense config loads
    its backbone from there, so that it also runs alone after the demo (tests/test_configs.py
    checks that the backbone configs are the same)."""
    for job in DENSE_JOBS:
        model = load_config(job.config).model
        # The backbone's own init (its prefix in the source), or the whole model's (by names).
        init = model.get('init_cfg') or model.backbone.init_cfg
        assert init.type == 'Pretrained'
        assert init.get('prefix') == (None if model.get('init_cfg') else 'backbone.')
        assert init.checkpoint == demo_job(job.backbone_from).work_dir == osp.join(
            'work_dirs', osp.splitext(osp.basename(demo_job(job.backbone_from).config))[0])


def test_demo_table_shows_the_segmentors_foreground_miou():
    assert COLUMNS.index('mIoU_fg') == COLUMNS.index('mIoU') + 1


def test_demo_table_says_which_jobs_were_tested_with_tta():
    out = format_table([(job, 60.0, {}, None) for job in DEMO_JOBS])
    assert demo_job('segmentor').tta and not demo_job('detector').tta
    assert 'setr-mla_vit-t2-hybrid_1xb4-demo_shapes.py (flip TTA)' in out
    assert out.count('TTA') == 1


@pytest.mark.parametrize('job', DENSE_JOBS, ids=[j.name for j in DENSE_JOBS])
def test_train_resume_test(job, shapes_root, trained_jobs):
    work = trained_jobs[job.name]
    opts = job_options(job, shapes_root, trained_jobs)
    assert last_checkpoint(work).endswith('iter_2.pth')
    log = open(sorted(
        p for p in (osp.join(work, d, d + '.log') for d in os.listdir(work)) if osp.exists(p)
    )[-1]).read()
    if job.backbone_from:
        # init_cfg named the work dir, as configs do; it held the 2-iteration checkpoint then
        loaded = osp.join(trained_jobs[job.backbone_from], 'iter_2.pth')
        assert (f'load model from: {loaded}' if loads_whole_model(job) else
                f"from {loaded} (source: the 'backbone.' weights of a vitdense model)") in log

    longer = [o.replace('max_iters=2', 'max_iters=4') for o in opts]
    run_tool('tools/train.py', job.config, '--work-dir', work, '--resume', '--cfg-options',
             *longer)
    assert last_checkpoint(work).endswith('iter_4.pth')
    log = open(sorted(
        p for p in (osp.join(work, d, d + '.log') for d in os.listdir(work)) if osp.exists(p)
    )[-1]).read()
    assert 'resumed epoch: 0, iter: 2' in log

    out = osp.join(work, 'preds.pkl')
    vis = osp.join(work, 'vis')
    run_tool('tools/test.py', job.config, last_checkpoint(work), '--work-dir', work, '--out', out,
             *(['--tta'] if job.tta else []),  # as `make demo` tests it
             '--show-dir', vis, '--show-score-thr', '0', '--cfg-options', *opts)
    metrics = read_test_metrics(work)
    expected = ({'coco/bbox_mAP', 'coco/bbox_mAP_50'} if job.name == 'detector'
                else {'mIoU', 'mIoU_fg', 'aAcc'})  # mIoU_fg: the 8 shapes, without background
    assert expected <= set(metrics)
    with open(out, 'rb') as f:
        assert len(pickle.load(f)) == 6
    drawn = sorted(f for f in os.listdir(vis) if f.endswith('.png'))
    assert len(drawn) == 6


@pytest.mark.slow
def test_distributed_training_on_cpu_with_gloo(shapes_root, tmp_path):
    """torchrun + --launcher pytorch on a machine without CUDA (compat layer: gloo, no device)."""
    job = demo_job('segmentor')
    work = str(tmp_path / 'dist')
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           '--master_port=29517', 'tools/train.py', job.config, '--work-dir', work,
           '--launcher', 'pytorch', '--cfg-options',
           *tiny_overrides(job.config, shapes_root, iters=2),
           'model.backbone.init_cfg=None', 'model.init_cfg=None']
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, timeout=600)
    assert last_checkpoint(work).endswith('iter_2.pth')
    log = open(sorted(
        p for p in (osp.join(work, d, d + '.log') for d in os.listdir(work)) if osp.exists(p)
    )[-1]).read()
    assert 'Distributed training: True' in log and "'backend': 'gloo'" in log

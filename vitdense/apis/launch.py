"""Turn command-line choices into a Runner config (the logic behind tools/train.py, test.py)."""
import logging
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from vitdense.engine.compat import setup_distributed
from vitdense.engine.compile import maybe_compile
from vitdense.transforms.loader_breadcrumbs import name_files_of_dead_workers
from vitdense.utils import register_all_modules
from vitdense.utils.work_dir import check_work_dir_writable, default_work_dir


def load_config(config: str, cfg_options: dict | None = None) -> Config:
    """Read a config file and apply ``--cfg-options``; fails naming the file if it is missing."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'Config file {config!r} does not exist.')
    register_all_modules()
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def enable_amp(cfg: Config) -> None:
    """bf16 autocast on CPU (our wrapper), mmengine's AmpOptimWrapper (fp16/bf16) on GPU."""
    wrapper = cfg.optim_wrapper
    if wrapper.get('type', 'OptimWrapper') not in ('OptimWrapper', 'AutocastOptimWrapper',
                                                    'AmpOptimWrapper'):
        raise ValueError(f"--amp cannot change optim_wrapper type {wrapper['type']!r}")
    if torch.cuda.is_available():
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
    else:
        wrapper.type = 'AutocastOptimWrapper'
        wrapper.dtype = 'bfloat16'


def enable_auto_scale_lr(cfg: Config, config: str) -> None:
    """Scale the learning rate by (processes x batch) / ``auto_scale_lr.base_batch_size``
    (mmengine's Runner does it when ``auto_scale_lr.enable``)."""
    if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
        raise KeyError(f"--auto-scale-lr needs auto_scale_lr.base_batch_size in '{config}': the "
                       'total batch its learning rate is set for, e.g. auto_scale_lr = '
                       'dict(enable=False, base_batch_size=16) for 8 GPUs x 2 images.')
    cfg.auto_scale_lr.enable = True


def prepare_train_cfg(config: str, work_dir: str | None = None, resume: str | None = None,
                      amp: bool = False, cfg_options: dict | None = None,
                      launcher: str = 'none', auto_scale_lr: bool = False) -> Config:
    """The config ``tools/train.py`` runs.

    Args:
        resume: None (no resume), 'auto' (the latest checkpoint in the work dir) or a path.
        auto_scale_lr: scale the learning rate to the run's total batch (see
            :func:`enable_auto_scale_lr`).
    """
    cfg = load_config(config, cfg_options)
    cfg.work_dir = work_dir or cfg.get('work_dir') or default_work_dir(config)
    check_work_dir_writable(cfg.work_dir)
    if amp:
        enable_amp(cfg)
    if auto_scale_lr:
        enable_auto_scale_lr(cfg, config)
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    setup_distributed(cfg, launcher)
    return cfg


def build_runner(cfg: Config) -> Runner:
    """The config's ``runner_type`` (e.g. 'FlexibleRunner' for FSDP), else mmengine's Runner,
    as mmdetection's tools do."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def shutdown_distributed() -> None:
    """Destroy the default process group, if one was started, once the work succeeded.

    Without it a process exits with Gloo's worker threads alive, and the interpreter's teardown
    can abort it ("terminate called without an active exception", SIGABRT: pytorch/pytorch
    #190489) after a run that succeeded. Only on success: destroying the group while another rank
    is still in a collective would hang (torchtitan #1342).
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def exit_without_teardown(cfg: Config) -> None:
    """End a process of a distributed run that succeeded without the interpreter's teardown.

    :func:`shutdown_distributed` is not always enough: a 2-process FSDP training on CPU that
    had saved its last checkpoint and written its log still aborted rank 0 at the teardown
    (SIGABRT, "terminate called without an active exception", once in a clean-clone test suite
    on 2026-12-03), and torchrun then reports the whole run as failed. Everything a run keeps
    is written by then (mmengine's LoggerHook closes the visualizer in ``after_run``); the log
    handlers and standard streams are flushed here, then the process exits with status 0. A
    single-process run returns normally.
    """
    if cfg.get('launcher', 'none') == 'none':
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def train(cfg: Config) -> None:
    """Build the runner of ``cfg`` (:func:`build_runner`) and train; a loader worker that died
    is reported with the file each worker was loading
    (:mod:`vitdense.transforms.loader_breadcrumbs`). The process group is shut down after
    training succeeded (:func:`shutdown_distributed`)."""
    runner = build_runner(cfg)
    try:
        runner.train()
    except RuntimeError as err:
        named = name_files_of_dead_workers(err)
        if named is None:
            raise
        raise named from err
    shutdown_distributed()


def evaluate(cfg: Config) -> dict:
    """Build the runner of ``cfg`` and test; returns the metrics. What ``tools/test.py`` runs
    (not named ``test``, which pytest would collect wherever it is imported). The process group
    is shut down after the test succeeded (:func:`shutdown_distributed`)."""
    runner = build_runner(cfg)
    if isinstance(runner, Runner):  # mmengine compiles only for training (FlexibleRunner: both)
        maybe_compile(runner)
    metrics = runner.test()
    shutdown_distributed()
    return metrics


def use_tta(cfg: Config, config: str) -> None:
    """Test-time augmentation: the test dataset reads ``cfg.tta_pipeline`` and the model
    becomes ``cfg.tta_model`` with ``module=cfg.model``."""
    missing = [key for key in ('tta_model', 'tta_pipeline') if key not in cfg]
    if missing:
        raise KeyError(f"--tta needs {' and '.join(missing)} in the config '{config}'; "
                       "configs/_base_/datasets/ade20k.py and shapes_detection.py show both "
                       "(tta_model=dict(type='SegTTAModel') or 'DetTTAModel', and a "
                       "TestTimeAug pipeline).")
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def prepare_test_cfg(config: str, checkpoint: str, work_dir: str | None = None,
                     out: str | None = None, show_dir: str | None = None,
                     cfg_options: dict | None = None, launcher: str = 'none',
                     show_score_thr: float = 0.3, tta: bool = False,
                     amp: bool = False) -> Config:
    """The config ``tools/test.py`` runs: load ``checkpoint``, optionally dump and draw (boxes
    scoring at least ``show_score_thr``), and with ``tta`` test with the config's
    ``tta_pipeline`` and ``tta_model`` wrapped around ``model`` (mmseg's ``--tta``). With
    ``amp`` the test loop runs under autocast (mmengine's ``TestLoop(fp16=True)``: bf16 on a CPU,
    fp16 on a GPU), as tools/train.py's ``--amp`` trains."""
    cfg = load_config(config, cfg_options)
    if tta:
        use_tta(cfg, config)
    if amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or dict(type='TestLoop'), fp16=True)
    cfg.work_dir = work_dir or cfg.get('work_dir') or default_work_dir(config)
    cfg.load_from = checkpoint
    hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') != 'CheckpointFitHook']
    cfg.custom_hooks = hooks + [dict(type='CheckpointFitHook', require='all')]
    if out is not None:
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.test_evaluator = evaluators + [dict(type='DumpResults', out_file_path=out)]
    if show_dir is not None:
        hooks = list(cfg.get('custom_hooks', []))
        cfg.custom_hooks = hooks + [dict(type='DrawPredictionsHook', out_dir=show_dir,
                                         score_thr=show_score_thr)]
    setup_distributed(cfg, launcher)
    return cfg

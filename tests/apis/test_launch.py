"""prepare_test_cfg: what tools/test.py's options put into the config."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from vitdense.apis.demo import demo_job
from vitdense.apis.launch import enable_auto_scale_lr, prepare_test_cfg, prepare_train_cfg


def test_show_dir_adds_the_drawing_hook_with_its_score_threshold(tmp_path):
    config = demo_job('detector').config
    plain = prepare_test_cfg(config, 'model.pth', str(tmp_path))
    assert not any(h['type'] == 'DrawPredictionsHook' for h in plain.get('custom_hooks', []))
    cfg = prepare_test_cfg(config, 'model.pth', str(tmp_path), show_dir=str(tmp_path / 'vis'),
                           show_score_thr=0.15)
    hooks = [h for h in cfg.custom_hooks if h['type'] == 'DrawPredictionsHook']
    assert hooks == [dict(type='DrawPredictionsHook', out_dir=str(tmp_path / 'vis'),
                          score_thr=0.15)]
    assert cfg.load_from == 'model.pth'


ADE20K_CONFIG = str(Path(__file__).resolve().parents[2] / 'configs/fpnseg/'
                    'fpnseg_vit-b-abs_8xb2-160k_ade20k-512x512.py')


def test_tta_wraps_the_model_and_swaps_the_test_pipeline(tmp_path):
    plain = prepare_test_cfg(ADE20K_CONFIG, 'model.pth', str(tmp_path))
    cfg = prepare_test_cfg(ADE20K_CONFIG, 'model.pth', str(tmp_path), tta=True)
    assert cfg.model.type == 'SegTTAModel' and cfg.model.module == plain.model
    assert cfg.model.module.test_mode == 'slide'
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert pipeline == plain.tta_pipeline and pipeline[1].type == 'TestTimeAug'
    resizes, flips = pipeline[1].transforms[:2]
    assert [r.scale for r in resizes] == [(1024, 256), (1536, 384), (2048, 512), (2560, 640),
                                          (3072, 768), (3584, 896)]
    assert [f.prob for f in flips] == [0.0, 1.0]


def test_tta_without_its_config_keys_says_what_is_missing(tmp_path):
    with pytest.raises(KeyError, match='tta_model and tta_pipeline'):
        prepare_test_cfg(demo_job('pretrain').config, 'model.pth', str(tmp_path), tta=True)


def test_auto_scale_lr_scales_by_the_total_batch(tmp_path):
    """--auto-scale-lr: the demo detector's rate (2e-3 at 1 x 4 images) at 1 x 2 images."""
    config = demo_job('detector').config
    assert not prepare_train_cfg(config, str(tmp_path)).auto_scale_lr.enable
    cfg = prepare_train_cfg(config, str(tmp_path), auto_scale_lr=True,
                            cfg_options={'train_dataloader.batch_size': 2})
    runner = Runner.from_cfg(cfg)
    wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    runner.scale_lr(wrapper, cfg.auto_scale_lr)  # what Runner.train does before the schedulers
    assert wrapper.get_lr()['lr'][0] == pytest.approx(2e-3 * 2 / 4)


def test_auto_scale_lr_without_its_base_says_what_to_add(tmp_path):
    with pytest.raises(KeyError, match='base_batch_size'):
        enable_auto_scale_lr(Config(dict(optim_wrapper={})), 'x.py')


def test_shutdown_distributed_destroys_the_group_and_is_a_no_op_without_one(tmp_path):
    """train and evaluate end by destroying the process group: a process that exits with Gloo's
    threads alive can abort in the interpreter's teardown after a run that succeeded."""
    import torch.distributed as dist

    from vitdense.apis.launch import shutdown_distributed
    assert not dist.is_initialized()
    shutdown_distributed()  # nothing started: nothing to do
    store = dist.FileStore(str(tmp_path / 'store'), 1)
    dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    try:
        shutdown_distributed()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


EXIT_SCRIPT = '''
import atexit, logging, sys
from vitdense.apis import exit_without_teardown
log = logging.getLogger('run')
log.addHandler(logging.FileHandler(sys.argv[1], delay=True))
log.warning('written before the exit')
atexit.register(lambda: print('teardown ran'))
exit_without_teardown(dict(launcher='pytorch'))
print('returned')
'''


def test_exit_without_teardown_ends_a_distributed_process_with_its_log_written(tmp_path):
    """After a distributed run, exit 0 with the log flushed and no interpreter teardown (where
    Gloo's threads can abort a rank that succeeded)."""
    import subprocess
    import sys
    log = tmp_path / 'run.log'
    out = subprocess.run([sys.executable, '-c', EXIT_SCRIPT, str(log)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert log.read_text() == 'written before the exit\n'
    assert out.stdout == ''  # neither 'returned' nor the atexit handler's line


def test_exit_without_teardown_returns_in_a_single_process():
    from vitdense.apis import exit_without_teardown
    assert exit_without_teardown(dict(launcher='none')) is None
    assert exit_without_teardown(dict()) is None

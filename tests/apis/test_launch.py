"""prepare_test_cfg: what tools/test.py's options put into the config."""
from vitdense.apis.demo import demo_job
from vitdense.apis.launch import prepare_test_cfg


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

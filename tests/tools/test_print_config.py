"""tools/misc/print_config.py: the merged config with --cfg-options, printed and saved."""
from mmengine.config import Config
from tool_helpers import tool


def test_print_config_applies_options_and_saves(tiny_configs, tmp_path, capsys):
    saved = tmp_path / 'resolved.py'
    cfg = tool('print_config').main([tiny_configs['seg'], '--cfg-options',
                                     'train_dataloader.batch_size=3', 'model.decode_head.'
                                     'num_classes=9', '--save-path', str(saved)])
    out = capsys.readouterr().out
    assert cfg.train_dataloader.batch_size == 3
    assert "type='FPNFuseHead'" in out  # from the _base_ files
    assert "arch='test'" in out  # from the leaf
    reread = Config.fromfile(str(saved))
    assert reread.train_dataloader.batch_size == 3
    assert reread.model.backbone.arch == 'test' and '_base_' not in reread

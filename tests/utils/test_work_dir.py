"""Work dirs: tools/train.py's default one, and the last checkpoint a training left in it."""
import os

import pytest

from vitdense.utils.work_dir import default_work_dir, is_work_dir_path, last_checkpoint

CONFIG = 'configs/cls/cls_toy_1xb2-1k_toys.py'


def test_default_work_dir_is_named_after_the_config():
    assert default_work_dir(CONFIG) == 'work_dirs/cls_toy_1xb2-1k_toys'


def test_work_dirs_are_told_from_checkpoint_files(tmp_path):
    (tmp_path / 'trained').mkdir()
    (tmp_path / 'model.pth').write_bytes(b'')
    assert is_work_dir_path(str(tmp_path / 'trained'))
    assert is_work_dir_path(str(tmp_path / 'not_trained_yet'))
    assert not is_work_dir_path(str(tmp_path / 'model.pth'))
    assert not is_work_dir_path(str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('recorded', ['absolute', 'elsewhere/work/iter_4.pth', 'iter_4.pth'])
def test_last_checkpoint_is_found_where_the_hook_recorded_it_or_in_the_work_dir(tmp_path,
                                                                                recorded):
    work = tmp_path / 'work'
    work.mkdir()
    for name in ('iter_2.pth', 'iter_4.pth'):
        (work / name).write_bytes(b'')
    if recorded == 'absolute':
        recorded = str(work / 'iter_4.pth')
    (work / 'last_checkpoint').write_text(recorded + '\n')
    assert os.path.samefile(last_checkpoint(str(work)), work / 'iter_4.pth')


def test_missing_checkpoints_say_which_config_to_train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs('configs/cls')
    open(CONFIG, 'w').close()
    work = default_work_dir(CONFIG)
    with pytest.raises(FileNotFoundError, match=f"Work dir '{work}' does not exist .*train "
                       f'{CONFIG} first: python tools/train.py {CONFIG}$'):
        last_checkpoint(work)
    os.makedirs(work)
    with pytest.raises(FileNotFoundError, match=f"Work dir '{work}' has no checkpoint"):
        last_checkpoint(work)
    elsewhere = 'runs/cls_toy_1xb2-1k_toys'
    with pytest.raises(FileNotFoundError, match=f'tools/train.py {CONFIG} --work-dir {elsewhere}'):
        last_checkpoint(elsewhere)
    with pytest.raises(FileNotFoundError, match='python tools/train.py CONFIG --work-dir '):
        last_checkpoint('work_dirs/no_such_config')
    with open(os.path.join(work, 'last_checkpoint'), 'w') as f:
        f.write(f'{work}/iter_9.pth')
    with pytest.raises(FileNotFoundError, match=f"names the checkpoint '{work}/iter_9.pth'"):
        last_checkpoint(work)

"""Work dirs: where tools/train.py trains a config by default, and the checkpoint it left there."""
import errno
import glob
import os
import os.path as osp

# Written by mmengine's CheckpointHook in the work dir: the path of the checkpoint saved last.
LAST_CHECKPOINT_FILE = 'last_checkpoint'


def default_work_dir(config: str) -> str:
    """``work_dirs/<config file name without .py>``: tools/train.py's and tools/test.py's work dir
    for ``config`` when none is given (mmdet's convention)."""
    return osp.join('work_dirs', osp.splitext(osp.basename(config))[0])


def is_work_dir_path(path: str) -> bool:
    """Whether ``path`` names a work dir rather than a checkpoint file: an existing directory, or
    a missing path without a file suffix (a work dir not trained yet)."""
    return osp.isdir(path) or (not osp.exists(path) and not osp.splitext(path)[1])


def _train_hint(work_dir: str) -> str:
    """How to fill ``work_dir``: tools/train.py with the config named like it, if there is one."""
    name = osp.basename(osp.normpath(work_dir))
    configs = sorted(glob.glob(osp.join('configs', '**', f'{name}.py'), recursive=True))
    config = configs[0] if configs else 'CONFIG'
    if configs and osp.normpath(work_dir) == default_work_dir(config):
        return f'train {config} first: python tools/train.py {config}'
    return f'train {config} first: python tools/train.py {config} --work-dir {work_dir}'


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint that mmengine's CheckpointHook recorded last in ``work_dir``.

    The hook records the path as the training saw it; when that path does not lead to the file
    from here (a relative path, a moved work dir), the file of that name in ``work_dir`` is used.

    Raises:
        FileNotFoundError: ``work_dir`` holds no recorded checkpoint (naming the config to train,
            where one in configs/ has the work dir's name), or the recorded file is gone.
    """
    marker = osp.join(work_dir, LAST_CHECKPOINT_FILE)
    if not osp.isfile(marker):
        state = 'has no checkpoint' if osp.isdir(work_dir) else 'does not exist'
        raise FileNotFoundError(f"Work dir '{work_dir}' {state} (no {LAST_CHECKPOINT_FILE} file "
                                f'from a finished training): {_train_hint(work_dir)}')
    with open(marker) as f:
        recorded = f.read().strip()
    for path in (recorded, osp.join(work_dir, osp.basename(recorded))):
        if recorded and osp.isfile(path):
            return path
    raise FileNotFoundError(f"'{marker}' names the checkpoint '{recorded}', which does not "
                            f'exist (nor in {work_dir}): {_train_hint(work_dir)}')


def check_work_dir_writable(work_dir: str) -> None:
    """Create ``work_dir`` if needed and write, fsync and delete a probe file in it.

    Raises:
        OSError: naming ``work_dir``, the reason (read-only, no permission, disk full) and what to
            do, before any training starts.
    """
    probe = osp.join(work_dir, f'.write_probe.{os.getpid()}')
    try:
        os.makedirs(work_dir, exist_ok=True)
        with open(probe, 'wb') as f:
            f.write(b'0' * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        reason = {errno.ENOSPC: 'the disk is full', errno.EDQUOT: 'the disk quota is exceeded'}
        raise OSError(err.errno, f'Work dir {work_dir!r} is not writable '
                      f'({reason.get(err.errno, err.strerror or str(err))}): logs and checkpoints '
                      'go there. Choose another with --work-dir, or fix its permissions or free '
                      'space.') from err
    finally:
        if osp.exists(probe):
            os.remove(probe)

"""tools/analysis/confusion_matrix.py: from tools/test.py's pickle and from the checkpoint (the
same counts), detection and segmentation, PNG and CSV."""
import csv

import cv2
import numpy as np
import pytest
from tool_helpers import assert_png, tool


def read_csv(path) -> tuple[list[str], list[str], np.ndarray]:
    with open(path) as f:
        rows = list(csv.reader(f))
    return rows[0][1:], [r[0] for r in rows[1:]], np.array([r[1:] for r in rows[1:]], int)


def test_detection_from_predictions_equals_from_checkpoint(tiny_configs, trained_det, tmp_path):
    from_pickle = tool('confusion_matrix').main([
        tiny_configs['det'], trained_det['predictions'], '--out-dir', str(tmp_path / 'pkl'),
        '--score-thr', '0.0'])
    from_checkpoint = tool('confusion_matrix').main([
        tiny_configs['det'], trained_det['checkpoint'], '--out-dir', str(tmp_path / 'pth'),
        '--score-thr', '0.0'])
    assert from_pickle.task == 'detection' and from_pickle.images == 3
    np.testing.assert_array_equal(from_pickle.matrix, from_checkpoint.matrix)
    columns, rows, counts = read_csv(tmp_path / 'pkl' / 'confusion_matrix.csv')
    assert columns == rows == from_pickle.labels and rows[-1] == 'background'
    assert len(rows) == 9  # 8 shapes + background
    np.testing.assert_array_equal(counts, from_pickle.matrix)
    assert counts[-1, -1] == 0 and counts.sum() > 0
    assert_png(tmp_path / 'pkl' / 'confusion_matrix.png')


def test_segmentation_counts_the_label_files(tiny_configs, tiny_checkpoints, shapes_root,
                                             tmp_path):
    result = tool('confusion_matrix').main([tiny_configs['seg'], tiny_checkpoints['seg'],
                                            '--out-dir', str(tmp_path)])
    assert result.task == 'segmentation' and result.labels[0] == 'background'
    per_class = np.zeros(9, dtype=np.int64)
    for path in sorted((shapes_root / 'annotations' / 'validation').glob('*.png')):
        per_class += np.bincount(cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ravel(),
                                 minlength=256)[:9]
    np.testing.assert_array_equal(result.matrix.sum(axis=1), per_class)
    np.testing.assert_array_equal(read_csv(tmp_path / 'confusion_matrix.csv')[2], result.matrix)
    assert_png(tmp_path / 'confusion_matrix.png')


def test_a_file_without_predictions_is_refused(tiny_configs, tmp_path):
    import pickle
    bad = tmp_path / 'bad.pkl'
    bad.write_bytes(pickle.dumps({'not': 'predictions'}))
    with pytest.raises(ValueError, match='does not hold tools/test.py predictions'):
        tool('confusion_matrix').main([tiny_configs['det'], str(bad), '--out-dir',
                                       str(tmp_path)])

"""tools/analysis/analyze_logs.py: plot_curve and cal_train_time on synthetic mmengine logs
(exact values) and on the log of a real 4-iteration training."""
import json

import numpy as np
import pytest
from tool_helpers import assert_png, tool


def write_log(path, lines: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines))
    return str(path)


def train(it: int, time: float, scale: float = 1.0) -> dict:
    return {'lr': 1e-3, 'loss': 10.0 * scale / it, 'time': time, 'data_time': 0.01, 'iter': it,
            'step': it}


def synthetic(tmp_path, name: str, scale: float = 1.0) -> str:
    """Logged every 10 iterations; validated after 20 and 40 (mmengine's step 0)."""
    lines = [train(10, 0.5 * scale, scale), train(20, 0.2 * scale, scale),
             {'coco/bbox_mAP': 0.1 * scale, 'time': 3.0, 'step': 0},
             train(30, 0.3 * scale, scale), train(40, 0.4 * scale, scale),
             {'coco/bbox_mAP': 0.3 * scale, 'time': 3.0, 'step': 0}]
    return write_log(tmp_path / name / '20260101_000000' / 'vis_data' / 'scalars.json', lines)


def test_plot_curve_panels_lines_and_points(tmp_path):
    a, b = synthetic(tmp_path, 'a'), synthetic(tmp_path, 'b', scale=2.0)
    out = tmp_path / 'curves.png'
    fig = tool('analyze_logs').main(['plot_curve', a, b, '--keys', 'loss', 'coco/bbox_mAP',
                                     '--legend', 'base', 'slow', '--out', str(out)])
    loss_ax, map_ax = fig.axes
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ['base', 'slow']
    assert loss_ax.get_xlabel() == 'iteration' and map_ax.get_ylabel() == 'coco/bbox_mAP'
    np.testing.assert_allclose(loss_ax.lines[0].get_xydata(),
                               [[10, 1.0], [20, 0.5], [30, 10 / 30], [40, 0.25]])
    # Validation results sit at the iteration they followed, not at mmengine's step 0.
    np.testing.assert_allclose(map_ax.lines[1].get_xydata(), [[20, 0.2], [40, 0.6]])
    assert_png(out, (504, 2 * 660))  # 5.5 x 4.2 inches per panel at 120 dpi


def test_cal_train_time(tmp_path, capsys):
    path = synthetic(tmp_path, 'a')
    (stats, ) = tool('analyze_logs').main(['cal_train_time', path]).values()
    # The first line (0.5 s, data loader start-up) is left out of the statistics.
    assert stats.lines == 3 and stats.mean_s == pytest.approx(0.3)
    assert stats.slowest == (40, 0.4) and stats.fastest == (20, 0.2)
    assert stats.total_minutes == pytest.approx(10 * (0.5 + 0.2 + 0.3 + 0.4) / 60)
    assert 'average iter time: 0.3000 s/iter' in capsys.readouterr().out
    (stats, ) = tool('analyze_logs').main(['cal_train_time', path,
                                           '--include-outliers']).values()
    assert stats.lines == 4 and stats.slowest == (10, 0.5)


def test_errors_name_the_log_and_what_it_has(tmp_path):
    path = synthetic(tmp_path, 'a')
    with pytest.raises(ValueError, match=r"did not log 'mIoU'; it logged \['lr', 'loss'"):
        tool('analyze_logs').main(['plot_curve', path, '--keys', 'mIoU', '--out',
                                   str(tmp_path / 'x.png')])
    with pytest.raises(SystemExit, match='--legend has 1 names for 2 logs'):
        tool('analyze_logs').main(['plot_curve', path, path, '--legend', 'x', '--out',
                                   str(tmp_path / 'x.png')])


def test_a_real_training_log(trained_det, tmp_path):
    out = tmp_path / 'real.png'
    fig = tool('analyze_logs').main(['plot_curve', trained_det['scalars'], '--keys', 'loss',
                                     'lr', 'coco/bbox_mAP', '--out', str(out)])
    loss, lr, bbox_map = (ax.lines[0].get_xydata() for ax in fig.axes)
    assert loss[:, 0].tolist() == [1, 2, 3, 4] and np.isfinite(loss[:, 1]).all()
    assert bbox_map[:, 0].tolist() == [2, 4]  # validated at 2 and 4
    assert_png(out, (504, 3 * 660))
    (stats, ) = tool('analyze_logs').main(['cal_train_time', trained_det['work_dir']]).values()
    assert stats.lines == 3 and stats.mean_s > 0 and stats.total_minutes > 0

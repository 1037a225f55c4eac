"""Learning curves from synthetic mmengine logs: points, resumed runs, errors, the figure."""
import json
import os

import cv2
import pytest

from vitdense.visualization.learning_curves import (
    collect_curves,
    learning_curve,
    load_run,
    plot_learning_curves,
    shift,
    total_minutes,
)


def train(it: int, time: float) -> dict:
    return {'lr': 1e-3, 'loss': 1.0 / it, 'time': time, 'data_time': 0.01, 'iter': it, 'step': it}


def val(step: int = 0, minutes: float | None = None, **metrics: float) -> dict:
    line = {'train_minutes': minutes} if minutes is not None else {}
    return {**line, **metrics, 'data_time': 0.01, 'time': 9.0, 'step': step}


def write_log(work_dir, stamp: str, lines: list[dict], resumed_from: int | None = None) -> str:
    """A work dir's ``<stamp>/vis_data/scalars.json`` and, for a resumed run, its text log."""
    os.makedirs(work_dir / stamp / 'vis_data', exist_ok=True)
    path = work_dir / stamp / 'vis_data' / 'scalars.json'
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines))
    if resumed_from is not None:
        (work_dir / stamp / f'{stamp}.log').write_text(
            f'... - mmengine - INFO - resumed epoch: 0, iter: {resumed_from}\n')
    return str(path)


def test_minutes_from_the_hook(tmp_path):
    path = write_log(tmp_path / 'det', '20250101_000000', [
        train(1, 2.0), train(2, 2.0), val(minutes=0.07, **{'coco/bbox_mAP': 0.1}),
        train(3, 2.0), train(4, 2.0), val(minutes=0.13, **{'coco/bbox_mAP': 0.25})])
    run = load_run(path)
    assert run.label == 'det'
    curve = learning_curve(run.lines, 'coco/bbox_mAP', run.label)
    assert (curve.minutes, curve.values, curve.estimated) == ([0.07, 0.13], [0.1, 0.25], False)


def test_minutes_estimated_from_iteration_times(tmp_path):
    """Logged every 2 iterations: each line's time stands for the 2 iterations up to it. One
    validation without the hook's minutes makes the whole curve an estimate."""
    path = write_log(tmp_path / 'seg', '20250101_000000', [
        train(2, 1.5), val(minutes=0.05, mIoU=10.0), train(4, 3.0), val(mIoU=20.0)])
    curve = learning_curve(load_run(path).lines, 'mIoU', 'seg')
    assert curve.estimated
    assert curve.minutes == pytest.approx([2 * 1.5 / 60, (2 * 1.5 + 2 * 3.0) / 60])
    assert curve.values == [10.0, 20.0]


def test_hierarchical_keys(tmp_path):
    path = write_log(tmp_path / 'seg', '20250101_000000', [
        {'train/loss': 1.0, 'train/time': 1.0, 'iter': 1, 'step': 1},
        {'val/train_minutes': 0.02, 'val/mIoU': 5.0, 'val/time': 9.0, 'step': 0}])
    curve = learning_curve(load_run(path).lines, 'mIoU', 'seg')
    assert (curve.minutes, curve.values, curve.estimated) == ([0.02], [5.0], False)


def test_work_dir_reads_its_newest_run_and_the_runs_it_resumed(tmp_path):
    """The first run validated at 2 and 4 but its last checkpoint was at 2; the second resumed
    from 2 and validated at 4; a third run in the same work dir started afresh."""
    work = tmp_path / 'fcos'
    write_log(work, '20250101_000000', [
        train(2, 1.0), val(minutes=0.1, mAP=1.0), train(4, 1.0), val(minutes=0.2, mAP=2.0)])
    write_log(work, '20250102_000000', [train(3, 1.0), train(4, 1.0), val(minutes=0.3, mAP=3.0)],
              resumed_from=2)
    run = load_run(f'{work}:resumed')
    assert run.label == 'resumed' and len(run.paths) == 2
    assert learning_curve(run.lines, 'mAP', run.label).values == [1.0, 3.0]

    write_log(work, '20250103_000000', [train(2, 1.0), val(minutes=0.1, mAP=4.0)])
    run = load_run(str(work))
    assert run.label == 'fcos' and len(run.paths) == 1
    assert learning_curve(run.lines, 'mAP', run.label).values == [4.0]


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        load_run(str(tmp_path / 'nowhere'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='empty.*scalars.json'):
        load_run(str(tmp_path / 'empty'))
    det = load_run(write_log(tmp_path / 'det', '20250101_000000',
                             [train(1, 1.0), val(minutes=0.1, **{'coco/bbox_mAP': 0.3})]))
    with pytest.raises(ValueError, match=r"'mIoU'.*det.*scalars.json has \['coco/bbox_mAP'\]"):
        collect_curves([det], ['mIoU'])
    seg = load_run(write_log(tmp_path / 'seg', '20250101_000000', [val(mIoU=3.0)]))
    with pytest.raises(ValueError, match=r"'seg' logged none of \['coco/bbox_mAP'\]"):
        collect_curves([det, seg], ['coco/bbox_mAP'])
    with pytest.raises(ValueError, match="2 runs are labelled 'det'"):
        collect_curves([det, det], ['coco/bbox_mAP'])


def test_figure_has_a_panel_per_metric_with_the_runs_that_logged_it(tmp_path):
    det = load_run(write_log(tmp_path / 'det', '20250101_000000', [
        train(1, 1.0), val(minutes=0.1, **{'coco/bbox_mAP': 0.3, 'mIoU': 1.0})]))
    seg = load_run(write_log(tmp_path / 'seg', '20250101_000000', [
        train(1, 1.0), val(mIoU=3.0)]))
    panels = collect_curves([det, seg], ['coco/bbox_mAP', 'mIoU'])
    out = str(tmp_path / 'docs' / 'curves.png')
    fig = plot_learning_curves(panels, out, title='tiny runs')
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes]
    assert legends == [['det'], ['det', 'seg (minutes estimated from iter times)']]
    assert [ax.get_xlabel() for ax in fig.axes] == ['training minutes'] * 2
    height, width = cv2.imread(out).shape[:2]
    assert (width, height) == (2 * 660, 504)  # 5.5 x 4.2 inches per panel at 120 dpi


def test_a_stage_is_drawn_after_the_stage_it_starts_from(tmp_path):
    pre = load_run(write_log(tmp_path / 'pre', '20250101_000000', [
        train(1, 2.0), val(minutes=0.5, **{'accuracy/top1': 30.0}),
        train(2, 2.0), val(minutes=1.5, **{'accuracy/top1': 50.0})]))
    det = load_run(write_log(tmp_path / 'det', '20250101_000000', [
        train(1, 2.0), val(minutes=2.0, **{'coco/bbox_mAP': 0.1})]))
    assert total_minutes(pre) == 1.5
    curve = learning_curve(shift(det, total_minutes(pre)).lines, 'coco/bbox_mAP', 'det')
    assert curve.minutes == [3.5] and curve.values == [0.1]
    bare = load_run(write_log(tmp_path / 'bare', '20250101_000000', [train(1, 2.0)]))
    with pytest.raises(ValueError, match='TrainTimeHook'):
        total_minutes(bare)

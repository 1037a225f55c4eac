"""tools/analysis/soak.py and ResourceMonitorHook: the samples, the summary's arithmetic, and a
short real soak of a tiny detector (training, validations, evaluations at two sizes)."""
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from vitdense.engine.resource_monitor_hook import ResourceMonitorHook, sample_resources

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
import soak  # noqa: E402


def test_a_sample_counts_open_files_and_child_processes(tmp_path):
    before = sample_resources()
    with open(tmp_path / 'a', 'w'), open(tmp_path / 'b', 'w'):
        assert sample_resources()['open_fds'] == before['open_fds'] + 2
    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    try:
        during = sample_resources()
        assert during['workers'] == before['workers'] + 1
        assert during['workers_rss_mb'] > before['workers_rss_mb']
    finally:
        child.kill()
        child.wait()
    assert before['rss_mb'] > 10


def _line(i, rss, fds=40, step=1.0, phase='train'):
    return dict(iter=i, phase=phase, rss_mb=rss, workers_rss_mb=0.0, open_fds=fds, step_s=step)


def test_each_rank_records_to_its_own_file(tmp_path):
    """Under two processes both ranks share the log dir: rank 0 keeps resources.jsonl, rank 1
    writes resources_rank1.jsonl, and each line names its rank."""
    for rank in (0, 1):
        runner = SimpleNamespace(rank=rank, log_dir=str(tmp_path), iter=7,
                                 logger=SimpleNamespace(warning=print))
        hook = ResourceMonitorHook(interval=1)
        hook.before_run(runner)
        hook.record(runner, 'val')
    lines = {name: [json.loads(ln) for ln in (tmp_path / name).read_text().splitlines()]
             for name in ('resources.jsonl', 'resources_rank1.jsonl')}
    assert [ln['rank'] for ln in lines['resources.jsonl']] == [0]
    assert [ln['rank'] for ln in lines['resources_rank1.jsonl']] == [1]
    assert lines['resources_rank1.jsonl'][0]['iter'] == 7


def test_the_summary_measures_growth_after_the_first_validation_and_the_throughput_ratio():
    # Memory jumps at the first validation (caches made once), then grows 0.5 MiB per 10 iters.
    lines = [_line(i, 100.0, step=2.0) for i in range(10, 60, 10)]
    lines.append(_line(50, 150.0, phase='val'))
    lines += [_line(i, 150.0 + 0.05 * (i - 60), step=2.0 if i < 150 else 1.0)
              for i in range(60, 210, 10)]
    out = soak.summarise(lines, window=3)
    assert out['rss_mb_growth_per_1000_iters'] == pytest.approx(50.0)
    assert out['rss_mb_growth_per_1000_iters_second_half'] == pytest.approx(50.0)
    settling = [dict(ln, rss_mb=min(ln['rss_mb'], 153.0)) for ln in lines]  # flat from iter 120
    assert soak.summarise(settling, window=3)['rss_mb_growth_per_1000_iters_second_half'] == 0
    assert out['rss_mb_after_first_val'] == 150.0 and out['open_fds_end'] == 40
    assert out['throughput_end_over_start'] == pytest.approx(2.0)  # steps twice as fast
    with pytest.raises(ValueError, match='--window'):
        soak.summarise(lines[:4], window=3)


@pytest.mark.slow
def test_a_short_soak_of_a_tiny_detector(tiny_configs, tmp_path, monkeypatch, capsys):
    work = tmp_path / 'soak'
    monkeypatch.setattr(sys, 'argv', [
        'soak.py', tiny_configs['det'], '--iters', '20', '--val-interval', '10', '--interval',
        '2', '--window', '3', '--eval-scales', '0.5', '1.5', '--work-dir', str(work),
        '--cfg-options', 'train_dataloader.batch_size=1', 'train_cfg.val_begin=1',
        'param_scheduler.0.end=5', 'param_scheduler.1.begin=5'])
    soak.main()
    (log_dir,) = [p for p in work.iterdir() if p.is_dir()]
    lines = [json.loads(ln) for ln in open(log_dir / 'resources.jsonl')]
    phases = [ln['phase'] for ln in lines]
    assert phases.count('train') == 10 and phases.count('val') == 2
    assert phases[-2:] == ['eval@0.5', 'eval@1.5']
    assert all('coco/bbox_mAP' in ln['metrics'] for ln in lines[-2:])
    summary = json.load(open(log_dir / 'soak.json'))
    assert summary['iters'] == 20 and summary['throughput_end_over_start'] > 0
    assert os.path.getsize(log_dir / 'soak.png') > 10_000
    assert 'throughput_end_over_start' in capsys.readouterr().out

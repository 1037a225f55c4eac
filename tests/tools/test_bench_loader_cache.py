"""tools/analysis/bench_loader_cache.py on a tiny shapes set: both rounds run and report."""
import sys
from pathlib import Path

import pytest

from vitdense.datasets.shapes import generate_shapes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
import bench_loader_cache  # noqa: E402


def test_the_benchmark_times_the_crops_with_and_without_the_cache(tmp_path, monkeypatch, capsys):
    generate_shapes(str(tmp_path), seed=3, num_train=3, num_val=1)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, 'argv', [
        'bench_loader_cache.py', '--batches', '8', '--batch', '4', '--rounds', '1',
        '--cfg-root', str(tmp_path) + '/'])
    bench_loader_cache.main()
    out = capsys.readouterr().out
    assert 'round 0: no cache' in out and 'speed-up' in out


def test_a_pipeline_without_loading_is_refused():
    from vitdense.apis import load_config
    cfg = load_config(str(ROOT / bench_loader_cache.CONFIG))
    cfg.train_dataloader.dataset.pipeline = cfg.train_dataloader.dataset.pipeline[1:]
    with pytest.raises(KeyError, match='no LoadImageFromFile'):
        bench_loader_cache.time_batches(cfg, 0, 1, 1, seed=0)

"""tools/analysis/benchmark.py at two sizes: the JSON has every field, consistent figures."""
import json

import pytest
from tool_helpers import tool


@pytest.mark.parametrize('kind', ['det', 'seg'])
def test_benchmark_writes_speed_and_memory(tiny_configs, tiny_checkpoints, kind, tmp_path,
                                           capsys):
    out = tmp_path / 'bench.json'
    tool('benchmark').main([tiny_configs[kind], tiny_checkpoints[kind], '--sizes', '64',
                            '96,128', '--batch', '2', '--warmup', '1', '--iters', '4',
                            '--out', str(out)])
    saved = json.loads(out.read_text())
    assert saved['checkpoint'] == tiny_checkpoints[kind] and saved['machine']
    assert saved['matmul_gflops_per_s'] > 0
    results = saved['results']
    assert [(r['height'], r['width']) for r in results] == [(64, 64), (96, 128)]
    for r in results:
        assert (r['batch'], r['warmup'], r['iters'], r['device']) == (2, 1, 4, 'cpu')
        assert 0 < r['latency_ms_p50'] <= r['latency_ms_p90'] <= r['latency_ms_p99']
        # images/s is the batch over the mean latency, which is at most the p99 latency.
        assert 2e3 / r['latency_ms_p99'] <= r['images_per_s']
        assert r['memory_kind'] == 'cpu_peak_rss_increase' and r['peak_memory_mb'] >= 0
        assert r['process_peak_rss_mb'] > 50  # torch alone is larger
        assert r['achieved_gflops_per_s'] == pytest.approx(r['gflops_per_image']
                                                           * r['images_per_s'])
    # The network's FLOPs grow with the pixels: 96 x 128 is 3 times 64 x 64.
    assert results[1]['gflops_per_image'] > 2.5 * results[0]['gflops_per_image'] > 0
    table = capsys.readouterr().out
    assert '64x64' in table and '96x128' in table and 'p99 ms' in table


def test_bad_size_is_refused(tiny_configs):
    with pytest.raises(SystemExit):
        tool('benchmark').main([tiny_configs['det'], '--sizes', '64x64'])


def test_memory_unavailable_still_times(tiny_configs, monkeypatch):
    import math

    from vitdense.apis import inference_speed, init_model, load_config

    def refuse(fn):
        raise RuntimeError('cannot reset the peak RSS')

    monkeypatch.setattr(inference_speed, 'peak_rss_increase', refuse)
    model = init_model(load_config(tiny_configs['seg']))
    result = inference_speed.measure_speed(model, 64, 96, batch=1, warmup=0, iters=2)
    assert result.memory_kind == 'unavailable' and math.isnan(result.peak_memory_mb)
    assert result.images_per_s > 0 and result.latency_ms_p50 > 0
    assert 'not measured' in inference_speed.format_speed([result])

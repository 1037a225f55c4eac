"""tools/analysis/bench_slide_inference.py --tiny runs end to end and ends with its summary line.

The tool runs in this process (its memory subprocess still starts: ~10 s of imports).
"""
import re
import runpy
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / 'tools/analysis/bench_slide_inference.py'


def test_bench_slide_inference_tiny_run(monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [str(TOOL), '--tiny', '--slide-batch-size', '4',
                                      '--repeats', '1', '--threads', '1'])
    runpy.run_path(str(TOOL), run_name='__main__')
    lines = capsys.readouterr().out.strip().splitlines()
    assert '18 windows' in lines[0]
    rows = {}
    for line in lines:
        if line.startswith(('slide x', 'whole')):  # the name is one or two words
            cut = 2 if line.startswith('slide') else 1
            rows[' '.join(line.split()[:cut])] = line.split()[cut:]
    assert list(rows) == ['slide x4', 'slide x1', 'whole']
    assert rows['whole'][0] == '1'
    assert [rows['slide x4'][0], rows['slide x1'][0]] == ['5', '18']  # forward passes
    assert all(float(v) > 0 for row in rows.values() for v in row[1:])
    summary = re.fullmatch(r'speedup=(\S+) memory_ratio=(\S+) max_abs_diff=(\S+)', lines[-1])
    assert summary and float(summary[1]) == float(rows['slide x4'][2])
    assert float(summary[3]) < 1e-4  # batched windows give the same logits as one at a time

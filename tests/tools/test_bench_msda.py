"""tools/analysis/bench_msda.py runs end to end at tiny sizes and ends with its summary line.

The tool runs in this process (its memory subprocess still starts: ~10 s of imports).
"""
import re
import runpy
import sys
from pathlib import Path

import pytest

pytest.importorskip('transformers')

TOOL = Path(__file__).resolve().parents[2] / 'tools/analysis/bench_msda.py'


def test_bench_msda_tiny_run(monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [str(TOOL), '--image-size', '64', '--queries', '7', '3',
                                      '--batch', '1', '--repeats', '1', '--threads', '1'])
    runpy.run_path(str(TOOL), run_name='__main__')
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [line.split() for line in lines if re.match(r'\s+\d+\s', line)]
    assert [row[0] for row in rows] == ['3', '7']  # sorted; the summary is for 7 queries
    assert len(rows[1]) == 7 and all(float(x) > 0 for x in rows[1][1:3])  # times
    number = r'(\d+\.\d+|nan)'
    summary = re.fullmatch(rf'speedup={number} memory_ratio={number}', lines[-1])
    assert summary and summary.group(1) == rows[1][3]

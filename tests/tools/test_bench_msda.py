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
    assert [(row[0], row[1]) for row in rows] == [
        (q, name) for q in ('3', '7') for name in ('hf', 'vitdense', 'vitdense-resample')]
    assert all(len(row) == 6 and float(row[2]) >= 0 for row in rows)
    # At this tiny size the peak-RSS increase of a step is noise and may come out negative (a
    # step that frees more than it allocates): the format is what is checked here.
    number = r'(-?\d+\.\d+|nan)'
    summaries = [m for line in lines
                 if (m := re.fullmatch(rf'speedup={number} memory_ratio={number}', line))]
    assert len(summaries) == 1, lines[-5:]  # once (other output may follow it)
    assert summaries[0].groups() == (rows[4][3], rows[4][5])  # 7 queries, vitdense

"""The side-by-side benchmark scripts (``make bench``) still run, and their own checks hold.

Tiny runs, nothing written: ``compare_pipeline`` checks that arb and the ccxt baseline decide
on the same crossed frames and that the final books equal the generator's model;
``replay_throughput`` that the engine decides on every book update with no decode error or
book failure, with and without OKX checksums. Timings are not looked at.
"""

from __future__ import annotations

import pytest

from bench import compare_ccxt
from bench import compare_pipeline
from bench import replay_throughput

pytestmark = pytest.mark.cli


def test_compare_ccxt_runs(capsys):
    assert compare_ccxt.main(["--updates", "1000", "--reps", "1", "--no-write"]) == 0
    assert "RATIOS" in capsys.readouterr().out


def test_compare_pipeline_runs_with_every_strategy(capsys):
    assert compare_pipeline.main(["--updates", "6000", "--reps", "1", "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "same frames: yes" in out
    assert "every strategy on, frame -> decided" in out


def test_replay_throughput_runs(capsys):
    assert replay_throughput.main(["--reps", "1", "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "checksum 0 (text rows)" in out
    assert "frames/s including detection" in out

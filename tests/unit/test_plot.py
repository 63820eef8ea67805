"""The replay plot: a 1200x800 PNG whatever the inputs, and a downsampler that keeps spikes."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.plot import MAX_POINTS
from arb.plot import downsample
from arb.plot import write_pnl_png

T0 = 1_714_550_400_000_000_000  # 2024-05-01 08:00:00 UTC, in ns
S = 1_000_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, chunk, width, height = struct.unpack(">I4sII", data[8:24])
    assert chunk == b"IHDR"
    assert length == 13
    return width, height


def series(n: int, step_ns: int = S) -> list[tuple[int, float]]:
    return [(T0 + i * step_ns, math.sin(i / 7) * 10 - 2) for i in range(n)]


def test_write_pnl_png_writes_a_1200x800_png(tmp_path):
    out = tmp_path / "pnl.png"
    write_pnl_png(
        out,
        title="replay BTC-USDT",
        equity=[(T0 + i * S, i * 0.5 - 3) for i in range(120)],
        spreads={"BTC-USDT okx->binance": series(120), "BTC-USDT binance->okx": series(60, 2 * S)},
        trades=[
            (T0 + 10 * S, 1.5, "trade"),
            (T0 + 50 * S, -0.7, "trade"),
            (T0 + 70 * S, -2.0, "rollback"),
        ],
        unhedged=[(T0, 0.0), (T0 + 50 * S, 1250.0), (T0 + 52 * S, 0.0)],
        quote="USDC",
    )
    assert png_size(out) == (1200, 800)


@pytest.mark.parametrize(
    ("equity", "spreads", "trades", "unhedged"),
    [
        pytest.param([], {}, [], [], id="all-empty"),
        pytest.param([], {"A-B x->y": []}, [], [], id="label-without-points"),
        pytest.param([(T0, 1.0)], {"a": [(T0, -3.0)]}, [(T0, 1.0, "trade")], [(T0, 5.0)], id="one"),
        pytest.param([], {}, [(T0, -1.0, "trade"), (T0 + S, 0.5, "rollback")], [], id="no-equity"),
        pytest.param(
            series(30), {f"P{i} x->y": series(30) for i in range(9)}, [], [], id="9-labels"
        ),
        pytest.param([], {"_hidden": series(5)}, [], [], id="underscore-label"),
        pytest.param([(T0, 0.0), (T0 + 1, 1.0)], {}, [], [], id="1ns-span"),
    ],
)
def test_write_pnl_png_with_empty_or_tiny_inputs_still_writes_a_png(
    tmp_path, equity, spreads, trades, unhedged
):
    out = tmp_path / "pnl.png"
    write_pnl_png(
        out, title="empty", equity=equity, spreads=spreads, trades=trades, unhedged=unhedged
    )
    assert png_size(out) == (1200, 800)


def test_write_pnl_png_writes_png_whatever_the_suffix_and_for_str_paths(tmp_path):
    out = tmp_path / "plot.out"
    write_pnl_png(str(out), title="t", equity=series(10), spreads={}, trades=[])
    assert png_size(out) == (1200, 800)


def test_write_pnl_png_gives_equal_bytes_for_equal_inputs(tmp_path):
    for name in ("a.png", "b.png"):
        write_pnl_png(
            tmp_path / name,
            title="same",
            equity=series(200),
            spreads={"x": series(200)},
            trades=[(T0 + 5 * S, 1.0, "trade")],
            unhedged=series(200),
        )
    data = (tmp_path / "a.png").read_bytes()
    assert data == (tmp_path / "b.png").read_bytes()
    assert b"Software" not in data
    assert b"matplotlib" not in data.lower()


def test_write_pnl_png_plots_a_long_series(tmp_path):
    out = tmp_path / "pnl.png"
    long = series(4 * MAX_POINTS, step_ns=S // 100)
    write_pnl_png(out, title="long", equity=long, spreads={"x": long}, trades=[], unhedged=long)
    assert png_size(out) == (1200, 800)


def test_importing_arb_and_arb_plot_does_not_import_matplotlib():
    code = "import sys, arb, arb.plot; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_downsample_returns_a_short_series_unchanged():
    points = series(10)
    assert downsample(points, 10) == points
    assert downsample([], 4) == []
    assert downsample(points[:1], 4) == points[:1]


def test_downsample_keeps_first_last_and_spikes():
    points = [(T0 + i, 0.0) for i in range(100_000)]
    points[1] = (T0 + 1, -1.0)  # first bucket
    points[41_234] = (T0 + 41_234, 250.0)  # spike up mid-series
    points[77_777] = (T0 + 77_777, -180.0)  # spike down
    points[0] = (T0, 3.0)
    points[-1] = (T0 + 99_999, -4.0)
    out = downsample(points, 5_000)
    assert len(out) <= 5_000
    assert out[0] == points[0]
    assert out[-1] == points[-1]
    for kept in (points[1], points[41_234], points[77_777]):
        assert kept in out


@pytest.mark.parametrize("max_points", [4, 5, 6, 7, 100, 101])
def test_downsample_never_returns_more_than_max_points(max_points):
    points = series(1_003)
    out = downsample(points, max_points)
    assert 2 < len(out) <= max_points


@pytest.mark.parametrize("max_points", [-1, 0, 1, 2, 3])
def test_downsample_with_max_points_below_4_raises(max_points):
    with pytest.raises(ValueError, match="at least 4"):
        downsample(series(10), max_points)


@given(
    values=st.lists(st.floats(allow_nan=False, width=32), min_size=0, max_size=300),
    max_points=st.integers(min_value=4, max_value=40),
)
def test_downsample_is_an_ordered_subset_with_the_extremes(values, max_points):
    points = [(T0 + i, v) for i, v in enumerate(values)]
    out = downsample(points, max_points)
    assert len(out) <= max(max_points, len(points))
    assert list(out) == sorted(set(out))  # time-ordered, no duplicates
    assert set(out) <= set(points)
    if points:
        assert out[0] == points[0]
        assert out[-1] == points[-1]
        assert min(v for _, v in out) == min(values)
        assert max(v for _, v in out) == max(values)

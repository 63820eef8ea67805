"""The plot of a replay report: ``pnl.png`` with equity, spreads and unhedged notional.

Three stacked panels share a UTC time axis (HH:MM:SS):

1. equity (cumulative PnL, step) with trade markers: green up-triangles for trades that did not
   lose, red down-triangles for losing trades, orange crosses for rollbacks;
2. the best cross spread per label, in bps after fees (thin lines, dashed zero line);
3. unhedged notional (step, filled).

matplotlib is imported inside ``write_pnl_png`` only, so ``import arb`` stays fast. The figure
is a bare ``Figure`` drawn by ``FigureCanvasAgg``: no pyplot, no global backend switch, safe in
threads. Long series go through ``downsample`` (min/max per bucket) before plotting.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from matplotlib.axes import Axes

__all__ = ["MAX_POINTS", "downsample", "write_pnl_png"]

MAX_POINTS = 5_000
"""Most points plotted per series."""

_FIGSIZE = (12.0, 8.0)
_DPI = 100
_MAX_LEGEND = 6
_MIN_PAD_NS = 5_000_000_000


def downsample(points: Sequence[tuple[int, float]], max_points: int) -> Sequence[tuple[int, float]]:
    """Thin a time-ordered series to at most ``max_points``, keeping spikes visible.

    The first and last points are always kept. The points between them are cut into
    ``(max_points - 2) // 2`` buckets of consecutive points, and each bucket keeps its minimum
    and its maximum, in time order (one point when they coincide). The series' global minimum
    and maximum therefore survive.

    Parameters
    ----------
    points
        ``(ts, value)`` pairs, time-ordered.
    max_points
        Upper bound on the length of the result; at least 4.

    Returns
    -------
    Sequence[tuple[int, float]]
        ``points`` itself when it has at most ``max_points`` items, else a new list.

    Runtime complexity: O(n), a few passes at C speed (about 50 ms for 10^6 points).
    """
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, received {max_points}")
    n = len(points)
    if n <= max_points:
        return points
    values = [p[1] for p in points]
    inner = n - 2
    buckets = (max_points - 2) // 2
    out = [points[0]]
    start = 1
    for b in range(1, buckets + 1):
        stop = 1 + b * inner // buckets
        seg = values[start:stop]
        if seg:
            i_lo = start + seg.index(min(seg))
            i_hi = start + seg.index(max(seg))
            first, second = (i_lo, i_hi) if i_lo <= i_hi else (i_hi, i_lo)
            out.append(points[first])
            if second != first:
                out.append(points[second])
        start = stop
    out.append(points[-1])
    return out


def write_pnl_png(
    path: str | os.PathLike[str],
    *,
    title: str,
    equity: Sequence[tuple[int, float]],
    spreads: Mapping[str, Sequence[tuple[int, float]]],
    trades: Sequence[tuple[int, float, str]],
    unhedged: Sequence[tuple[int, float]] = (),
    quote: str = "USDT",
) -> None:
    """Write the replay's PnL plot as a 1200x800 PNG at ``path``.

    Every series is time-ordered with timestamps in ns since the epoch (UTC). Any series may be
    empty; an empty panel carries a note instead of a curve, and the file is always written.
    The PNG carries no software/version metadata, so equal inputs give equal bytes on one
    installation.

    Parameters
    ----------
    path
        Output file; written as PNG whatever its suffix.
    title
        Figure title.
    equity
        ``(ts, cumulative PnL in quote)``.
    spreads
        label (e.g. ``"BTC-USDT okx->binance"``) -> ``(ts, best cross spread in bps after fees)``.
    trades
        ``(ts, realized PnL of the trade in quote, kind)``, kind ``"trade"`` or ``"rollback"``.
        Markers sit on the equity curve at their time (0 before the first equity point).
    unhedged
        ``(ts, unhedged notional in quote)``.
    quote
        Currency of the money axes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax_eq, ax_sp, ax_un = fig.subplots(3, 1, sharex=True, height_ratios=[2.0, 1.5, 1.0])
    fig.suptitle(title)
    _plot_equity(ax_eq, equity, trades, quote)
    _plot_spreads(ax_sp, spreads)
    _plot_unhedged(ax_un, unhedged, quote)
    _set_time_axis(ax_un, equity, spreads, trades, unhedged)
    fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})


# (ts ns, value) pairs -> (datetime64[ns] array, float array), after downsampling.
def _xy(points: Sequence[tuple[int, float]]) -> tuple[npt.NDArray[np.datetime64], list[float]]:
    pts = downsample(points, MAX_POINTS)
    return _times([p[0] for p in pts]), [p[1] for p in pts]


def _times(ts: Sequence[int]) -> npt.NDArray[np.datetime64]:
    import numpy as np

    return np.asarray(ts, dtype=np.int64).view("datetime64[ns]")


# A line through one point draws nothing: mark a lone point ("" = no marker).
def _lone(x: npt.NDArray[np.datetime64]) -> str:
    return "o" if len(x) == 1 else ""


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="grey")


def _plot_equity(
    ax: Axes,
    equity: Sequence[tuple[int, float]],
    trades: Sequence[tuple[int, float, str]],
    quote: str,
) -> None:
    ax.set_ylabel(f"PnL ({quote})")
    ax.grid(visible=True, alpha=0.3)
    if not equity and not trades:
        _note(ax, "no data")
        return
    ax.axhline(0.0, color="grey", linewidth=0.6, linestyle="--")
    if equity:
        x, y = _xy(equity)
        ax.step(
            x, y, where="post", color="tab:blue", linewidth=1.0, label="equity", marker=_lone(x)
        )
    eq_ts = [p[0] for p in equity]
    # (marker, color, legend label) per class of trade
    styles = {
        "win": ("^", "tab:green", "trade (gain)"),
        "loss": ("v", "tab:red", "trade (loss)"),
        "rollback": ("x", "tab:orange", "rollback"),
    }
    groups: dict[str, tuple[list[int], list[float]]] = {k: ([], []) for k in styles}
    for ts, pnl, kind in trades:
        key = "rollback" if kind == "rollback" else ("win" if pnl >= 0 else "loss")
        i = bisect_right(eq_ts, ts) - 1
        groups[key][0].append(ts)
        groups[key][1].append(equity[i][1] if i >= 0 else 0.0)
    for key, (xs, ys) in groups.items():
        if xs:
            marker, color, label = styles[key]
            ax.scatter(_times(xs), ys, marker=marker, color=color, s=30, zorder=3, label=label)
    ax.legend(loc="upper left", fontsize="small")


def _plot_spreads(ax: Axes, spreads: Mapping[str, Sequence[tuple[int, float]]]) -> None:
    ax.set_ylabel("spread (bps)")
    ax.grid(visible=True, alpha=0.3)
    if not any(spreads.values()):
        _note(ax, "no data")
        return
    ax.axhline(0.0, color="grey", linewidth=0.8, linestyle="--")
    for label, points in spreads.items():
        if points:
            x, y = _xy(points)
            ax.plot(x, y, linewidth=0.7, label=label, marker=_lone(x))
    shown = [label for label, points in spreads.items() if points and not label.startswith("_")]
    if 0 < len(shown) <= _MAX_LEGEND:
        ax.legend(loc="upper left", fontsize="small")


def _plot_unhedged(ax: Axes, unhedged: Sequence[tuple[int, float]], quote: str) -> None:
    ax.set_ylabel(f"unhedged ({quote})")
    ax.set_xlabel("time (UTC)")
    ax.grid(visible=True, alpha=0.3)
    if not unhedged:
        _note(ax, "no unhedged exposure")
        return
    x, y = _xy(unhedged)
    ax.fill_between(x, y, step="post", color="tab:purple", alpha=0.3, linewidth=0.0)
    ax.step(x, y, where="post", color="tab:purple", linewidth=0.8, marker=_lone(x))


# Pin the shared x range to the data, padded 2% and at least 5 s so that HH:MM:SS ticks stay
# distinct, and format it HH:MM:SS.
def _set_time_axis(
    ax: Axes,
    equity: Sequence[tuple[int, float]],
    spreads: Mapping[str, Sequence[tuple[int, float]]],
    trades: Sequence[tuple[int, float, str]],
    unhedged: Sequence[tuple[int, float]],
) -> None:
    from datetime import UTC

    from matplotlib.dates import AutoDateLocator
    from matplotlib.dates import DateFormatter

    ends = [t for s in (equity, unhedged, *spreads.values()) if s for t in (s[0][0], s[-1][0])]
    if trades:
        ends += [trades[0][0], trades[-1][0]]
    if ends:
        lo, hi = min(ends), max(ends)
        pad = max((hi - lo) // 50, _MIN_PAD_NS)
        lim = _times([lo - pad, hi + pad])
        ax.set_xlim(lim[0], lim[1])
    # matplotlib.dates ships no stubs (3.11): its constructors are untyped.
    ax.xaxis.set_major_locator(AutoDateLocator(tz=UTC))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S", tz=UTC))  # type: ignore[no-untyped-call]

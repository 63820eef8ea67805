"""``arb synth``: write a deterministic synthetic multi-venue market as an arb recording.

Every venue's frames are produced in its own wire format, stamped with a local receive time
(venue time + network latency), merged in receive order and written with
``arb.recording.RecordingWriter``. The same arguments give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from arb.recording import RecordingWriter
from arb.synth import specs
from arb.synth.binance import binance_frames
from arb.synth.model import LatentMarket
from arb.synth.okx import okx_frames
from arb.synth.specs import InstrumentSpec
from arb.synth.wire import Delivered
from arb.synth.wire import Top

__all__ = ["DEFAULT_START_NS", "FEE_BPS", "SynthReport", "generate"]

DEFAULT_START_NS = 1_723_075_200_000_000_000  # 2024-08-08 00:00:00 UTC
FEE_BPS = 10.0  # taker fee per leg assumed by the "above fees" counters (0.10 %)
GENERATOR = "arb.synth 1"
_S = 1_000_000_000


class SynthReport(msgspec.Struct, frozen=True, kw_only=True):
    """What ``generate`` wrote, and how often venues disagreed.

    Attributes
    ----------
    out
        The recording directory.
    seed, seconds, venues, symbols
        The arguments.
    frames
        Frames written (all kinds).
    frames_by_venue
        Frames per venue.
    book_frames_by_venue
        Book snapshots and updates per venue (WebSocket and REST).
    trades_by_venue
        Public trade frames per venue.
    open_seconds
        Seconds, summed over symbols, during which the best bid of one venue was above the
        best ask of another (a cross-venue spread open before fees), as seen by arb in
        receive-time order.
    open_fraction
        ``open_seconds / (seconds * number of symbols quoted on two venues or more)``.
    openings
        Times such a spread opened.
    openings_above_fees
        Openings whose widest spread exceeded two taker fees of ``fee_bps`` each.
    max_spread_bps
        The widest cross-venue spread seen, in bps of the ask.
    fee_bps
        The taker fee per leg assumed above.
    """

    out: str
    seed: int
    seconds: float
    venues: list[str]
    symbols: list[str]
    frames: int
    frames_by_venue: dict[str, int]
    book_frames_by_venue: dict[str, int]
    trades_by_venue: dict[str, int]
    open_seconds: float
    open_fraction: float
    openings: int
    openings_above_fees: int
    max_spread_bps: float
    fee_bps: float = FEE_BPS


def _validate(
    seconds: float, venues: Sequence[str], symbols: Sequence[str]
) -> list[tuple[str, list[InstrumentSpec]]]:
    if not seconds >= 1.0:
        raise ValueError(f"synth: seconds must be at least 1, was {seconds!r}")
    if not venues:
        raise ValueError("synth: no venue given")
    if not symbols:
        raise ValueError("synth: no symbol given")
    for name, items in (("venue", venues), ("symbol", symbols)):
        dupes = sorted({x for x in items if list(items).count(x) > 1})
        if dupes:
            raise ValueError(f"synth: {name} listed twice: {', '.join(dupes)}")
    return [(v, [specs.instrument_spec(v, s) for s in symbols]) for v in venues]


def generate(
    out: Path,
    *,
    seconds: float,
    seed: int,
    venues: Sequence[str] = ("okx", "binance"),
    symbols: Sequence[str] = ("BTC-USDT", "ETH-USDT"),
    start_ns: int = DEFAULT_START_NS,
) -> SynthReport:
    """Write a synthetic market of ``venues`` x ``symbols`` to the recording ``out``.

    Parameters
    ----------
    out
        A new (or empty) recording directory.
    seconds
        Length of the market, at least 1.
    seed
        Seed of every random draw; the same arguments give byte-identical files.
    venues
        ``"okx"`` (spot, ``books`` + ``trades``), ``"binance"`` (spot diff. depth + trades,
        REST snapshot), ``"binance-usdm"`` (USD-M perpetual ``BASE-QUOTE-PERP`` of each
        symbol: diff. depth with ``pu`` + trades, REST snapshot).
    symbols
        Canonical spot symbols: ``"BTC-USDT"``, ``"ETH-USDT"``, ``"ETH-BTC"``.
    start_ns
        Local time of the first frame's epoch (ns); default 2024-08-08 00:00 UTC.

    Returns
    -------
    SynthReport
        Frame counts and cross-venue spread statistics.

    Raises
    ------
    ValueError
        An unknown venue or symbol, a pair a venue does not list, or ``seconds < 1``.
    RecordingError
        ``out`` already holds a recording.
    """
    plan = _validate(seconds, venues, symbols)
    end_ns = start_ns + int(seconds * _S)
    vspecs = [specs.VENUES[v] for v, _ in plan]
    market = LatentMarket(vspecs, seed=seed, start_ns=start_ns, end_ns=end_ns)
    frames: list[Delivered] = []
    for vspec, (_, insts) in zip(vspecs, plan, strict=True):
        make = okx_frames if vspec.family == "okx" else binance_frames
        frames += make(market, vspec, insts, seed=seed, start_ns=start_ns, end_ns=end_ns)
    rank = {v: i for i, v in enumerate(venues)}
    frames.sort(key=lambda f: (f.ts_recv, rank[f.venue], f.order))
    with RecordingWriter(out, source="synth") as w:
        for _, insts in plan:
            for inst in insts:
                w.add_instrument(specs.make_instrument(inst))
        w.notes.update(_notes(seed, seconds, venues, symbols, start_ns))
        write = w.write
        for f in frames:
            write(f.ts_recv, f.venue, f.conn, f.kind, f.payload)
    return _report(out, seed, seconds, venues, symbols, frames)


def _notes(
    seed: int, seconds: float, venues: Sequence[str], symbols: Sequence[str], start_ns: int
) -> dict[str, str]:
    notes = {
        "generator": GENERATOR,
        "seed": str(seed),
        "seconds": repr(float(seconds)),
        "venues": ",".join(venues),
        "symbols": ",".join(symbols),
        "start_ns": str(start_ns),
        "jumps": (
            f"market rate {specs.JUMP_RATE}/s, median {specs.JUMP_MEDIAN_BPS} bps, "
            f"lognormal sigma {specs.JUMP_SIGMA}"
        ),
    }
    for a in specs.ASSETS.values():
        if a.vol:
            notes[f"asset.{a.name}"] = f"start {a.start}, vol {a.vol}, corr {a.corr}"
    for v in venues:
        s = specs.VENUES[v]
        notes[f"venue.{v}"] = (
            f"publish {s.publish_ms} ms, lag {s.lag_ms} ms, jump delay {s.jump_delay_ms} ms, "
            f"half spread {s.half_spread_bps} bps, latency {s.latency_ms} ms"
        )
    return notes


class _Spreads:
    """Cross-venue spread statistics over frames in receive order."""

    def __init__(self) -> None:
        self.books: dict[str, dict[str, tuple[float, float]]] = {}
        self.open_since: dict[str, int] = {}
        self.widest: dict[str, float] = {}
        self.open_ns = 0
        self.openings = 0
        self.above = 0
        self.max_bps = 0.0

    def on_top(self, ts: int, venue: str, top: Top) -> None:
        books = self.books.setdefault(top.symbol, {})
        books[venue] = (top.bid, top.ask)
        best = 0.0
        items = list(books.items())
        for v, (bid, _) in items:  # each venue's bid against every other venue's ask
            for w, (_, ask) in items:
                if w != v and bid > 0 and ask > 0 and bid > ask:
                    best = max(best, (bid - ask) / ask * 1e4)
        sym = top.symbol
        if best > 0:
            if sym not in self.open_since:
                self.open_since[sym] = ts
                self.widest[sym] = best
                self.openings += 1
            else:
                self.widest[sym] = max(self.widest[sym], best)
            self.max_bps = max(self.max_bps, best)
        elif sym in self.open_since:
            self._close(sym, ts)

    def _close(self, sym: str, ts: int) -> None:
        self.open_ns += ts - self.open_since.pop(sym)
        if self.widest.pop(sym) > 2 * FEE_BPS:
            self.above += 1

    def finish(self, ts: int) -> None:
        for sym in list(self.open_since):
            self._close(sym, ts)


def _report(
    out: Path,
    seed: int,
    seconds: float,
    venues: Sequence[str],
    symbols: Sequence[str],
    frames: list[Delivered],
) -> SynthReport:
    by_venue = dict.fromkeys(venues, 0)
    books = dict.fromkeys(venues, 0)
    trades = dict.fromkeys(venues, 0)
    spreads = _Spreads()
    for f in frames:
        by_venue[f.venue] += 1
        if f.top is not None:
            books[f.venue] += 1
            spreads.on_top(f.ts_recv, f.venue, f.top)
        elif f.trade:
            trades[f.venue] += 1
    if frames:
        spreads.finish(frames[-1].ts_recv)
    # Only symbols quoted under the same name by two venues can open a spread.
    shared = sum(1 for m in spreads.books.values() if len(m) > 1)
    return SynthReport(
        out=str(out),
        seed=seed,
        seconds=float(seconds),
        venues=list(venues),
        symbols=list(symbols),
        frames=len(frames),
        frames_by_venue=by_venue,
        book_frames_by_venue=books,
        trades_by_venue=trades,
        open_seconds=spreads.open_ns / _S,
        open_fraction=spreads.open_ns / _S / (seconds * shared) if shared else 0.0,
        openings=spreads.openings,
        openings_above_fees=spreads.above,
        max_spread_bps=spreads.max_bps,
    )

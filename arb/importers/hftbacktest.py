"""``hftbacktest``: hftbacktest's raw Binance collector files -> raw frames, byte for byte.

One line per received message: ``<local receive time, ns><space><raw JSON>``. Combined-stream
envelopes become kind ``<`` frames on connection ``ws0``; a bare REST depth snapshot
(``{"lastUpdateId":..,"bids":..,"asks":..}``) becomes a kind ``r`` frame whose ``conn`` is the
REST path that returns it (``venues.binance.symbols.rest_depth_path``)::

    1723161253937085768 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate",..}}
    1723161254206652067 {"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"],..]}

The venue is ``--venue`` or inferred per file from its payloads: a COIN-M payload holds
``ps`` (or a snapshot ``pair``), a futures ``depthUpdate`` holds ``pu``, anything else is
spot. The snapshot's symbol is its ``symbol`` field, else the one symbol the file streams.
Instruments are inferred from the most precise price and size strings seen per symbol
(depth levels, snapshots, bookTicker, trades).
"""

from __future__ import annotations

from collections.abc import Generator
from collections.abc import Iterator
from pathlib import Path

import msgspec

from arb.core.errors import RecordingError
from arb.core.instruments import Instrument
from arb.core.numbers import decimals_of
from arb.importers._base import ImportContext
from arb.importers._base import Out
from arb.importers._base import Precisions
from arb.importers._base import read_lines
from arb.recording import Kind
from venues.binance.instruments import inferred_instrument
from venues.binance.symbols import MARKETS
from venues.binance.symbols import from_venue_symbol
from venues.binance.symbols import rest_depth_path

__all__ = ["HftbacktestImporter"]

_Levels = list[tuple[str, str]]
_CONN = "ws0"
# Lines held while a file's venue or snapshot symbol is still unknown.
_LOOKAHEAD = 10_000


class _Data(msgspec.Struct, gc=False):
    # View of a stream payload: only what tells the venue, the symbol and the decimals.
    e: str = ""
    s: str = ""
    ps: str | None = None
    pu: int | None = None
    b: _Levels | str | None = None
    a: _Levels | str | None = None
    B: str | None = None
    A: str | None = None
    p: str | None = None
    q: str | None = None
    bids: _Levels | None = None
    asks: _Levels | None = None


class _Line(msgspec.Struct, gc=False):
    # A combined-stream envelope, or a bare REST depth snapshot.
    stream: str | None = None
    data: _Data | None = None
    lastUpdateId: int | None = None
    symbol: str | None = None
    pair: str | None = None
    E: int | None = None
    bids: _Levels | None = None
    asks: _Levels | None = None


_Item = tuple[int, int, bytes, _Line]  # lineno, ts_recv, raw payload, parsed view


class _File:
    # What is known of one input file: venue, streamed symbols, venue hints.
    def __init__(self, venue: str | None) -> None:
        self.venue = venue
        self.symbols: dict[str, None] = {}
        self.coinm = False
        self.futures = False
        self.snapshot_waits = False

    def observe(self, obj: _Line) -> None:
        d = obj.data
        if d is None:
            if obj.pair is not None:
                self.coinm = True
            elif obj.E is not None:
                self.futures = True
            if obj.symbol is None and not self.symbols:
                self.snapshot_waits = True
            return
        if d.ps is not None:
            self.coinm = True
        if d.e == "bookTicker":
            self.futures = True  # spot bookTicker payloads carry no "e"
        if self.venue is None and d.e == "depthUpdate":
            self.futures = self.futures or d.pu is not None
            self.decide()

    def decide(self) -> None:
        if self.venue is None:
            if self.coinm:
                self.venue = "binance-coinm"
            elif self.futures:
                self.venue = "binance-usdm"
            else:
                self.venue = "binance"

    @property
    def ready(self) -> bool:
        return self.venue is not None and (not self.snapshot_waits or bool(self.symbols))


class HftbacktestImporter:
    """Import hftbacktest raw Binance files; see the module docstring."""

    def __init__(self, ctx: ImportContext, venue: str | None) -> None:
        if venue is not None and venue not in MARKETS:
            raise RecordingError(
                f"hftbacktest: --venue {venue!r} is not a Binance venue ({', '.join(MARKETS)})"
            )
        self.ctx = ctx
        self.venue = venue
        self._decoder = msgspec.json.Decoder(_Line)
        self._prec = Precisions()
        self._known: set[tuple[str, str]] = set()

    def frames(self, path: Path) -> Generator[Out, None, None]:
        """Yield the frames of one file, in file order."""
        f = _File(self.venue)
        pending: list[_Item] = []
        for lineno, line in read_lines(path, self.ctx):
            item = self._parse(path, lineno, line)
            if item is None:
                continue
            obj = item[3]
            if obj.stream is not None:
                f.symbols.setdefault(_stream_symbol(obj.stream, obj.data))
            f.observe(obj)
            if not pending and f.ready:
                out = self._emit(path, f, item)
                if out is not None:
                    yield out
                continue
            pending.append(item)
            if len(pending) >= _LOOKAHEAD:
                f.decide()
                f.snapshot_waits = False
            if f.ready:
                yield from self._flush(path, f, pending)
        f.decide()
        yield from self._flush(path, f, pending)

    def _flush(self, path: Path, f: _File, pending: list[_Item]) -> Iterator[Out]:
        for item in pending:
            out = self._emit(path, f, item)
            if out is not None:
                yield out
        pending.clear()

    def _parse(self, path: Path, lineno: int, line: bytes) -> _Item | None:
        if not line:
            self.ctx.skipped += 1
            return None
        ts, sep, raw = line.partition(b" ")
        if not sep or not ts.isdigit():
            self.ctx.bad(path, lineno, "expected '<receive time ns> <json>'")
            return None
        try:
            obj = self._decoder.decode(raw)
        except msgspec.DecodeError as e:
            self.ctx.bad(path, lineno, f"malformed JSON payload ({e})")
            return None
        if obj.stream is None and obj.lastUpdateId is None:
            self.ctx.bad(path, lineno, "neither a combined-stream message nor a depth snapshot")
            return None
        return lineno, int(ts), raw, obj

    def _emit(self, path: Path, f: _File, item: _Item) -> Out | None:
        lineno, ts, raw, obj = item
        venue = f.venue
        assert venue is not None  # noqa: S101 - emitted only once the file is ready
        if obj.stream is not None:
            symbol = _stream_symbol(obj.stream, obj.data)
            if not self._check(path, lineno, venue, symbol):
                return None
            if obj.data is not None:
                self._decimals((venue, symbol), obj.data)
            return ts, venue, _CONN, Kind.RECV, raw
        if obj.symbol:
            symbol = obj.symbol.upper()
        elif len(f.symbols) == 1:
            symbol = next(iter(f.symbols))
        else:
            streamed = ", ".join(f.symbols) or "none"
            self.ctx.bad(
                path, lineno, f"depth snapshot names no symbol; streamed symbols: {streamed}"
            )
            return None
        if not self._check(path, lineno, venue, symbol):
            return None
        self._prec.add_levels((venue, symbol), obj.bids or [])
        self._prec.add_levels((venue, symbol), obj.asks or [])
        return ts, venue, rest_depth_path(venue, symbol), Kind.REST, raw

    def _check(self, path: Path, lineno: int, venue: str, symbol: str) -> bool:
        key = (venue, symbol)
        if key in self._known:
            return True
        try:
            from_venue_symbol(venue, symbol)
        except ValueError as e:
            self.ctx.bad(path, lineno, f"symbol {symbol!r}: {e}")
            return False
        self._known.add(key)
        return True

    def _decimals(self, key: tuple[str, str], d: _Data) -> None:
        add = self._prec.add
        if isinstance(d.b, list):
            self._prec.add_levels(key, d.b)
        elif d.b is not None and d.B is not None:
            add(key, decimals_of(d.b), decimals_of(d.B))
        if isinstance(d.a, list):
            self._prec.add_levels(key, d.a)
        elif d.a is not None and d.A is not None:
            add(key, decimals_of(d.a), decimals_of(d.A))
        if d.p is not None and d.q is not None and d.e in ("trade", "aggTrade"):
            add(key, decimals_of(d.p), decimals_of(d.q))
        if d.bids:
            self._prec.add_levels(key, d.bids)
        if d.asks:
            self._prec.add_levels(key, d.asks)

    def instruments(self) -> list[Instrument]:
        """Return an inferred instrument per (venue, symbol) seen."""
        return [
            inferred_instrument(venue, symbol, *self._prec.get((venue, symbol)))
            for venue, symbol in sorted(self._known)
        ]

    def notes(self) -> dict[str, str]:
        """Return nothing beyond the common notes (the manifest lists the venues)."""
        return {}


def _stream_symbol(stream: str, data: _Data | None) -> str:
    if data is not None and data.s:
        return data.s.upper()
    return stream.partition("@")[0].upper()

"""The sandbox's market: a recorded (or built-in synthetic) OKX market replayed on the wall clock.

``MarketFeed.poll(now)`` releases the events whose place in the recording has been reached
since the last poll, stamped with ``now`` (the replay loops when the recording ends, at
``speed`` times real time). ``PublicBooks`` keeps the books the sandbox publishes: its own
``seqId`` per instrument (so that loops and restarts stay continuous), and the levels changed
since the last flush, which become one ``books`` update per instrument and flush.

Only book events of one channel per instrument (the first seen) and public trades are kept;
the recording's own sequence ids are dropped (the sandbox is the venue now).
"""

from __future__ import annotations

import os
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

import msgspec

from arb.core.errors import ArbError
from arb.core.errors import RecordingError
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import MarketEvent
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.numbers import POW10
from arb.recording import open_recording
from venues.okx.codec import OkxCodec
from venues.okx.sandbox.skew import skew_timeline

__all__ = [
    "VENUE",
    "BookUpdate",
    "MarketFeed",
    "PublicBooks",
    "TradeTape",
    "load_market",
    "synthetic_market",
    "trim",
]

VENUE = "okx"
NS_PER_MS = 1_000_000
Timeline = list[tuple[int, MarketEvent]]
"""(offset from the recording's start in ns, event), in order."""
TAPE_LEN = 200_000


def trim(s: str) -> str:
    """OKX-style decimal string: no trailing zeros (``"0.50000"`` -> ``"0.5"``)."""
    return s.rstrip("0").rstrip(".") if "." in s else s


def load_market(path: str | os.PathLike[str]) -> tuple[list[Instrument], Timeline]:
    """Decode the OKX spot instruments' books and trades of a recording into a timeline.

    Raises ``RecordingError`` if the recording has no OKX spot instrument or no book event.
    """
    rec = open_recording(path)
    insts = [i for i in rec.instruments(VENUE) if i.kind is InstrumentKind.SPOT]
    if not insts:
        raise RecordingError(f"{path}: no OKX spot instrument in the recording")
    codec = OkxCodec(insts)
    channel: dict[str, str] = {}
    timeline: Timeline = []
    start: int | None = None
    for f in rec.frames():
        if f.venue != VENUE:
            continue
        try:
            events = codec.decode(f.kind, f.conn, f.payload, f.ts_recv)
        except ArbError:
            continue  # a frame the codec refuses is not market data the sandbox can serve
        for ev in events:
            if isinstance(ev, BookSnapshot | BookDelta):
                if channel.setdefault(ev.symbol, ev.channel) != ev.channel:
                    continue
            elif not isinstance(ev, Trade):
                continue
            if start is None:
                start = f.ts_recv
            timeline.append((f.ts_recv - start, ev))
    if not any(isinstance(e, BookSnapshot | BookDelta) for _, e in timeline):
        raise RecordingError(f"{path}: no OKX book event in the recording")
    return insts, timeline


def synthetic_market(
    seconds: float,
    seed: int,
    *,
    skew_bps: float = 0.0,
    skew_every_s: float = 0.0,
    skew_for_s: float = 0.0,
) -> tuple[list[Instrument], Timeline]:
    """A small deterministic OKX spot market: BTC-USDT and ETH-USDT, 20 levels a side.

    The mid follows a random walk; a book update every 100 ms changes a few levels near the
    top; a public trade every ~1 s. Instrument metadata is OKX's listing for the pairs.

    With ``skew_bps`` and ``skew_every_s``, the same walk (the seed alone draws it) is shifted
    by ``skew_bps`` during windows of ``skew_for_s`` seconds every ``skew_every_s`` seconds,
    alternating the sign (see ``venues.okx.sandbox.skew``): the twin of an unskewed market of
    the same seed, for cross-venue tests. Raises ``ConfigError`` for an impossible window.
    """
    rng = random.Random(f"okx-sandbox/{seed}")
    specs = (
        ("BTC-USDT", "BTC", "0.1", "0.00000001", "0.00001", 60_000.0),
        ("ETH-USDT", "ETH", "0.01", "0.000001", "0.001", 3_000.0),
    )
    insts: list[Instrument] = []
    timeline: Timeline = []
    steps = max(10, int(seconds * 10))
    for symbol, base, tick, lot, min_sz, start_px in specs:
        inst = Instrument.create(
            venue=VENUE,
            symbol=symbol,
            venue_symbol=symbol,
            kind=InstrumentKind.SPOT,
            base=base,
            quote="USDT",
            tick_size=tick,
            lot_size=lot,
            min_size=min_sz,
            source="sandbox",
        )
        insts.append(inst)
        timeline.extend(_walk(inst, start_px, steps, rng))
    timeline.sort(key=lambda t: t[0])
    skewed = skew_timeline(
        insts, timeline, skew_bps=skew_bps, skew_every_s=skew_every_s, skew_for_s=skew_for_s
    )
    return insts, skewed


def _walk(inst: Instrument, start_px: float, steps: int, rng: random.Random) -> Timeline:
    tick = inst.tick_raw
    one = POW10[inst.size_precision]
    mid = round(start_px * POW10[inst.price_precision])
    out: Timeline = []

    def sizes() -> int:
        return max(inst.lot_raw, round(rng.uniform(0.05, 2.0) * one))

    def side_levels(best: int, step: int) -> list[tuple[int, int]]:
        return [(best + step * k * tick, sizes()) for k in range(20)]

    bids = side_levels(mid - tick, -1)
    asks = side_levels(mid + tick, 1)
    base = {"venue": VENUE, "symbol": inst.symbol, "channel": "books"}
    out.append((0, BookSnapshot(ts_event=0, ts_recv=0, bids=bids, asks=asks, **base)))  # type: ignore[arg-type]
    for i in range(1, steps):
        t = i * 100 * NS_PER_MS
        new_mid = mid + rng.choice((-2, -1, 0, 0, 1, 2)) * tick
        nb, na = side_levels(new_mid - tick, -1), side_levels(new_mid + tick, 1)
        d_bids = _diff(dict(bids), dict(nb))
        d_asks = _diff(dict(asks), dict(na))
        bids, asks, mid = nb, na, new_mid
        out.append((t, BookDelta(ts_event=t, ts_recv=t, bids=d_bids, asks=d_asks, **base)))  # type: ignore[arg-type]
        if i % 10 == 5:
            side = rng.choice(("buy", "sell"))
            px = asks[0][0] if side == "buy" else bids[0][0]
            out.append(
                (
                    t,
                    Trade(
                        venue=VENUE,
                        symbol=inst.symbol,
                        ts_event=t,
                        ts_recv=t,
                        trade_id=str(i),
                        px=px,
                        qty=inst.lot_raw * 1000,
                        side=side,
                    ),
                )
            )
    return out


def _diff(old: dict[int, int], new: dict[int, int]) -> list[tuple[int, int]]:
    rows = [(px, q) for px, q in new.items() if old.get(px) != q]
    rows.extend((px, 0) for px in old if px not in new)
    return rows


class MarketFeed:
    """Releases a timeline's events on the wall clock, looping, at ``speed`` x real time."""

    def __init__(self, timeline: Timeline, *, start_ns: int, speed: float = 1.0) -> None:
        if not timeline:
            raise ValueError("market timeline is empty")
        self._timeline = timeline
        # One quiet 100 ms after the last event before the loop starts again.
        self._duration = max(timeline[-1][0] + 100 * NS_PER_MS, 1_000 * NS_PER_MS)
        self._start = start_ns
        self._speed = speed
        self._loop = 0
        self._idx = 0

    def poll(self, now_ns: int) -> list[MarketEvent]:
        """Events reached since the last poll, stamped ``now_ns``, without sequence ids.

        At most one full loop is released per poll (a long stall skips ahead).
        """
        pos = int((now_ns - self._start) * self._speed)
        loop, offset = divmod(max(pos, 0), self._duration)
        if loop > self._loop + 1:
            self._loop, self._idx = loop - 1, 0
        out: list[MarketEvent] = []
        tl = self._timeline
        while self._loop < loop or (self._idx < len(tl) and tl[self._idx][0] <= offset):
            if self._idx >= len(tl):
                self._loop += 1
                self._idx = 0
                continue
            out.append(_restamp(tl[self._idx][1], now_ns))
            self._idx += 1
        return out


def _restamp(ev: MarketEvent, now_ns: int) -> MarketEvent:
    if isinstance(ev, BookDelta):
        return msgspec.structs.replace(
            ev,
            ts_event=now_ns,
            ts_recv=now_ns,
            first_seq=NO_SEQ,
            last_seq=NO_SEQ,
            prev_seq=NO_SEQ,
            checksum=0,
            raw_bids=None,
            raw_asks=None,
        )
    if isinstance(ev, BookSnapshot):
        return msgspec.structs.replace(
            ev,
            ts_event=now_ns,
            ts_recv=now_ns,
            seq=NO_SEQ,
            checksum=0,
            raw_bids=None,
            raw_asks=None,
        )
    return msgspec.structs.replace(ev, ts_event=now_ns, ts_recv=now_ns)


@dataclass(slots=True)
class BookUpdate:
    """One ``books`` update: changed rows as OKX strings (size ``"0"`` deletes)."""

    inst_id: str
    bids: list[list[str]]
    asks: list[list[str]]
    prev_seq: int
    seq: int
    ts_ms: int


@dataclass(slots=True)
class _Book:
    inst: Instrument
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    seq: int = 0
    ts_ms: int = 0
    changed_bids: dict[int, int] = field(default_factory=dict)
    changed_asks: dict[int, int] = field(default_factory=dict)


class PublicBooks:
    """The books the sandbox publishes (REST ``market/books``, WS ``books``/``books5``)."""

    def __init__(self, instruments: Iterable[Instrument], seed: int) -> None:
        self._books = {i.venue_symbol: _Book(i) for i in instruments}
        self._by_symbol = {b.inst.symbol: b for b in self._books.values()}
        self._rng = random.Random(f"okx-sandbox-seq/{seed}")
        for b in self._books.values():
            b.seq = self._rng.randint(1_000, 100_000)

    def apply(self, ev: MarketEvent) -> None:
        """Apply one book event (others are ignored); changes wait for ``flush``."""
        b = self._by_symbol.get(ev.symbol)
        if b is None or not isinstance(ev, BookSnapshot | BookDelta):
            return
        if isinstance(ev, BookSnapshot):
            _replace(b.bids, dict(ev.bids), b.changed_bids)
            _replace(b.asks, dict(ev.asks), b.changed_asks)
        else:
            _update(b.bids, ev.bids, b.changed_bids)
            _update(b.asks, ev.asks, b.changed_asks)
        b.ts_ms = ev.ts_event // NS_PER_MS

    def flush(self) -> list[BookUpdate]:
        """One update per instrument whose book changed since the last flush."""
        out: list[BookUpdate] = []
        for inst_id, b in self._books.items():
            if not b.changed_bids and not b.changed_asks:
                continue
            prev = b.seq
            b.seq += self._rng.randint(1, 3)  # ids increase, not always by 1 (as on OKX)
            out.append(
                BookUpdate(
                    inst_id,
                    _rows(b.inst, sorted(b.changed_bids.items(), reverse=True)),
                    _rows(b.inst, sorted(b.changed_asks.items())),
                    prev,
                    b.seq,
                    b.ts_ms,
                )
            )
            b.changed_bids.clear()
            b.changed_asks.clear()
        return out

    def snapshot(
        self, inst_id: str, depth: int
    ) -> tuple[list[list[str]], list[list[str]], int, int]:
        """(bids, asks, seqId, ts_ms) of the published book, ``depth`` levels a side.

        Raises ``KeyError`` for an unknown ``inst_id``.
        """
        b = self._books[inst_id]
        bids = sorted(b.bids.items(), reverse=True)[:depth]
        asks = sorted(b.asks.items())[:depth]
        return _rows(b.inst, bids), _rows(b.inst, asks), b.seq, b.ts_ms

    def has(self, inst_id: str) -> bool:
        return inst_id in self._books


def _replace(side: dict[int, int], new: dict[int, int], changed: dict[int, int]) -> None:
    for px in [p for p in side if p not in new]:
        del side[px]
        changed[px] = 0
    for px, q in new.items():
        if side.get(px) != q:
            side[px] = q
            changed[px] = q


def _update(side: dict[int, int], rows: list[tuple[int, int]], changed: dict[int, int]) -> None:
    for px, q in rows:
        if q:
            side[px] = q
        elif side.pop(px, None) is None:
            continue
        changed[px] = q


def _rows(inst: Instrument, levels: list[tuple[int, int]]) -> list[list[str]]:
    # [px, sz, "0" (deprecated), number of orders]; a deleted level has size "0", orders "0".
    return [
        [trim(inst.px_str(px)), trim(inst.qty_str(q)) if q else "0", "0", "1" if q else "0"]
        for px, q in levels
    ]


class TradeTape:
    """The last ``TAPE_LEN`` trades per spot ``instId``: (ts_ms, px_raw, qty_raw), in order."""

    def __init__(self) -> None:
        self._tapes: dict[str, deque[tuple[int, int, int]]] = {}

    def add(self, inst_id: str, ts_ms: int, px: int, qty: int) -> None:
        tape = self._tapes.get(inst_id)
        if tape is None:
            tape = self._tapes[inst_id] = deque(maxlen=TAPE_LEN)
        tape.append((ts_ms, px, qty))

    def trades(self, inst_id: str) -> list[tuple[int, int, int]]:
        return list(self._tapes.get(inst_id, ()))

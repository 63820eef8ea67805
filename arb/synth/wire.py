"""Shared wire helpers: number formatting as venues print it, and delivery to arb.

A venue module turns feed events into ``Out`` messages stamped with the venue's send time;
``deliver`` adds the network: a base latency, exponential jitter and rare stalls, in order per
connection (TCP never reorders), so a stall delays everything queued behind it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import NamedTuple

from arb.core.numbers import POW10
from arb.core.numbers import decimals_of
from arb.core.numbers import from_raw
from arb.core.numbers import to_raw
from arb.synth.specs import InstrumentSpec
from arb.synth.specs import VenueSpec

__all__ = ["Delivered", "Fmt", "Out", "Top", "deliver"]

_MS = 1_000_000
STALL_P = 0.002  # chance that a message meets a stall ...
STALL_MS = 15.0  # ... of this mean length


class Top(NamedTuple):
    """Best bid and ask (as floats, for statistics) of ``symbol`` after a frame."""

    symbol: str
    bid: float
    ask: float


class Out(NamedTuple):
    ts: int  # venue send time (ns); local time when ``local``
    conn: str
    kind: str
    payload: bytes
    top: Top | None = None
    local: bool = False
    trade: bool = False


class Delivered(NamedTuple):
    ts_recv: int
    order: int
    venue: str
    conn: str
    kind: str
    payload: bytes
    top: Top | None
    trade: bool


class Fmt:
    """Format ticks and lots of one instrument as its venue prints them.

    ``decimals == 0`` prints the minimum (OKX: ``"30243.5"``, ``"0.4"``, ``"30261"``); otherwise
    exactly that many decimals (Binance spot: ``"61737.63000000"``).
    """

    def __init__(self, inst: InstrumentSpec) -> None:
        self._pp = decimals_of(inst.tick_size)
        self._sp = decimals_of(inst.lot_size)
        self._tick = to_raw(inst.tick_size, self._pp)
        self._lot = to_raw(inst.lot_size, self._sp)
        self._pd = inst.px_decimals
        self._sd = inst.sz_decimals
        self.tick = float(inst.tick_size)
        self._px: dict[int, str] = {}
        self._sz: dict[int, str] = {}
        self.zero = _fmt(0, self._sp, self._sd)

    def px(self, tick: int) -> str:
        s = self._px.get(tick)
        if s is None:
            s = self._px[tick] = _fmt(tick * self._tick, self._pp, self._pd)
        return s

    def sz(self, lots: int) -> str:
        s = self._sz.get(lots)
        if s is None:
            s = _fmt(lots * self._lot, self._sp, self._sd)
            if len(self._sz) < 100_000:
                self._sz[lots] = s
        return s


def _fmt(raw: int, precision: int, decimals: int) -> str:
    if decimals == 0:
        s = from_raw(raw, precision)
        return s.rstrip("0").rstrip(".") if "." in s else s
    return from_raw(raw * POW10[decimals - precision], decimals)


def deliver(
    venue: VenueSpec, outs: Iterable[Out], rng: random.Random, *, rest: bool = False
) -> list[Delivered]:
    """Stamp ``outs`` with local receive times; one in-order link per connection.

    Local frames (connection open, sent requests) keep their time. ``rest`` links use the
    venue's REST latency.
    """
    base = (venue.rest_latency_ms if rest else venue.latency_ms) * _MS
    jitter = venue.jitter_ms * _MS
    last: dict[str, int] = {}
    res: list[Delivered] = []
    for i, o in enumerate(sorted(outs, key=lambda o: o.ts)):
        if o.local:
            t = o.ts
        else:
            t = o.ts + int(base + rng.expovariate(1.0) * jitter)
            if rng.random() < STALL_P:
                t += int(rng.expovariate(1.0 / STALL_MS) * _MS)
            t = max(t, last.get(o.conn, 0) + 1_000)
        last[o.conn] = t
        res.append(Delivered(t, i, venue.name, o.conn, o.kind, o.payload, o.top, o.trade))
    return res

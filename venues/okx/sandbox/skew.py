"""Skew windows: a market priced away from its twin from time to time, for cross-venue tests.

Two sandboxes started with the same seed replay the same market. Give one of them a skew
(``skew_bps``, ``skew_every_s``, ``skew_for_s``) and, during a window of ``skew_for_s`` seconds
starting every ``skew_every_s`` seconds (the first at ``skew_every_s``), every price of its
books (both sides, all levels) and of its trades is ``skew_bps`` away from the twin's; the
sign alternates per window (``+``, ``-``, ``+``, ...) so that both directions of a cross-venue
arbitrage occur. Outside the windows the two markets are equal.

Within a window the shift of an instrument is one amount of ticks, ``skew_bps`` of its mid
when the window opens, rounded to the tick: the book keeps its shape, and each update of the
window maps row by row (a translation of prices is one-to-one, a per-price rounding of a
scaling is not). When the state changes, at the window's start and end, a full
``BookSnapshot`` of the (un)shifted book replaces every level, so that the published book
(``PublicBooks`` turns it into one update deleting the old levels and setting the new) and
the matching venue never keep a stale level nor cross. Window times are offsets into the
timeline (market time: the replay's ``speed`` scales them).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from arb.core.errors import ConfigError
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import MarketEvent
from arb.core.events import Trade
from arb.core.instruments import Instrument

__all__ = ["skew_timeline", "window_of"]

NS_PER_S = 1_000_000_000
_Timeline = list[tuple[int, MarketEvent]]
_Side = dict[int, int]


def window_of(t_ns: int, every_ns: int, for_ns: int) -> int:
    """The window open at offset ``t_ns`` (1 for the first, ...), 0 between windows.

    Window ``k`` is ``[k * every_ns, k * every_ns + for_ns)``; its sign is ``+`` for odd ``k``.
    """
    k = t_ns // every_ns
    return k if k >= 1 and t_ns - k * every_ns < for_ns else 0


def skew_timeline(
    instruments: Iterable[Instrument],
    timeline: _Timeline,
    *,
    skew_bps: float,
    skew_every_s: float,
    skew_for_s: float,
) -> _Timeline:
    """``timeline`` with the skew windows applied (see the module doc).

    Returns ``timeline`` itself when ``skew_bps`` is 0 or ``skew_every_s`` is not positive.
    Raises ``ConfigError`` unless ``0 < skew_for_s < skew_every_s`` and ``|skew_bps| < 10000``.
    """
    if skew_bps == 0 or skew_every_s <= 0:
        return timeline
    if not 0 < skew_for_s < skew_every_s:
        raise ConfigError(
            f"skew: the window (skew_for_s={skew_for_s}) must be positive and shorter than "
            f"its period (skew_every_s={skew_every_s})"
        )
    if not abs(skew_bps) < 10_000:
        raise ConfigError(f"skew: skew_bps={skew_bps} must be within (-10000, 10000)")
    return _Skewer(instruments, skew_bps, skew_every_s, skew_for_s).run(timeline)


class _Skewer:
    def __init__(
        self, instruments: Iterable[Instrument], bps: float, every_s: float, for_s: float
    ) -> None:
        self._tick = {i.symbol: i.tick_raw for i in instruments}
        self._bps = bps
        self._every = round(every_s * NS_PER_S)
        self._for = round(for_s * NS_PER_S)
        self._books: dict[str, tuple[_Side, _Side, BookSnapshot | BookDelta]] = {}
        self._shift: dict[str, int | None] = {}  # None: in a window, not computed yet
        self._window = 0
        self._out: _Timeline = []

    def run(self, timeline: _Timeline) -> _Timeline:
        for t, ev in timeline:
            w = window_of(t, self._every, self._for)
            if w != self._window:
                k = t // self._every
                self._switch(k * self._every + (0 if w else self._for), w)
            self._event(t, ev)
        if self._window and timeline:
            self._switch(timeline[-1][0], 0)  # a looped replay starts from unskewed books
        return self._out

    def _switch(self, t: int, window: int) -> None:
        # An instrument without a book yet gets its shift at its first book of the window.
        self._window = window
        self._shift = dict.fromkeys(self._tick) if window else {}
        for symbol, (bids, asks, proto) in self._books.items():
            s = self._new_shift(symbol, bids, asks) if window else 0
            self._shift[symbol] = s
            self._out.append((t, _snapshot(proto, t, bids, asks, s)))

    def _new_shift(self, symbol: str, bids: _Side, asks: _Side) -> int:
        tick = self._tick[symbol]
        tops = [max(bids)] if bids else []
        tops += [min(asks)] if asks else []
        if not tops:
            return 0
        mid = sum(tops) / len(tops)
        s = round(mid * abs(self._bps) / 10_000 / tick) * tick
        plus = (self._window % 2 == 1) == (self._bps > 0)
        return s if plus else -s

    def _event(self, t: int, ev: MarketEvent) -> None:
        symbol = ev.symbol
        if symbol not in self._tick:
            self._out.append((t, ev))
            return
        if isinstance(ev, BookSnapshot | BookDelta):
            self._apply(symbol, ev)
        s = self._shift.get(symbol, 0)
        if s is None:
            if symbol not in self._books:
                self._out.append((t, ev))  # a trade before any book: nothing to shift from
                return
            bids, asks, _ = self._books[symbol]
            s = self._shift[symbol] = self._new_shift(symbol, bids, asks)
            if isinstance(ev, BookDelta):
                # The first book of the window: the whole of it, shifted.
                self._out.append((t, _snapshot(ev, t, bids, asks, s)))
                return
        self._out.append((t, _shifted(ev, s)))

    def _apply(self, symbol: str, ev: BookSnapshot | BookDelta) -> None:
        if isinstance(ev, BookSnapshot) or symbol not in self._books:
            bids: _Side = {}
            asks: _Side = {}
        else:
            bids, asks, _ = self._books[symbol]
        for side, rows in ((bids, ev.bids), (asks, ev.asks)):
            for px, q in rows:
                if q:
                    side[px] = q
                else:
                    side.pop(px, None)
        self._books[symbol] = (bids, asks, ev)


def _snapshot(
    proto: BookSnapshot | BookDelta, t: int, bids: _Side, asks: _Side, s: int
) -> BookSnapshot:
    return BookSnapshot(
        venue=proto.venue,
        symbol=proto.symbol,
        channel=proto.channel,
        ts_event=t,
        ts_recv=t,
        bids=sorted(((px + s, q) for px, q in bids.items()), reverse=True),
        asks=sorted((px + s, q) for px, q in asks.items()),
    )


def _shifted(ev: MarketEvent, s: int) -> MarketEvent:
    if not s:
        return ev
    if isinstance(ev, BookSnapshot | BookDelta):
        return msgspec.structs.replace(
            ev,
            bids=[(px + s, q) for px, q in ev.bids],
            asks=[(px + s, q) for px, q in ev.asks],
            checksum=0,
            raw_bids=None,
            raw_asks=None,
        )
    if isinstance(ev, Trade):
        return msgspec.structs.replace(ev, px=ev.px + s)
    return ev

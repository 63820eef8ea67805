"""One venue's market-data events for one instrument, in venue time.

``run_feed`` steps a ``SynthBook`` along the venue's publish grid (every ``publish_ms``,
at a per-venue phase) and draws public trades in between. It returns, in time order:

- ``TradeEv``: one taker trade against the touch;
- ``SnapEv``: the published book (as a subscriber holds it) just before the first publish at
  or after each requested time, for snapshots;
- ``BookEv``: the net changes of one publish and the touch after them (only when something
  changed), with the top 25 levels when ``with_top`` is set (for checksums). At the first
  publish at or after each of ``holds`` nothing is published: the ``BookEv`` has no levels
  (a keep-alive) and its changes go out with the next publish.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple

from arb.synth.book import Level
from arb.synth.book import SynthBook
from arb.synth.model import LatentMarket
from arb.synth.model import Quoter
from arb.synth.specs import InstrumentSpec
from arb.synth.specs import VenueSpec

__all__ = ["BookEv", "SnapEv", "TradeEv", "run_feed"]

TOP = 25
_MS = 1_000_000


class BookEv(NamedTuple):
    ts: int
    bids: list[Level]
    asks: list[Level]
    bid: int
    ask: int
    top: tuple[list[tuple[int, int]], list[tuple[int, int]]] | None


class SnapEv(NamedTuple):
    ts: int  # the requested time
    state_ts: int  # time of the publish the state is from
    bids: list[Level]
    asks: list[Level]


class TradeEv(NamedTuple):
    ts: int
    buy: bool
    tick: int
    lots: int


Event = BookEv | SnapEv | TradeEv


def run_feed(
    market: LatentMarket,
    venue: VenueSpec,
    inst: InstrumentSpec,
    *,
    seed: int,
    phase_ns: int,
    start_ns: int,
    end_ns: int,
    snapshots: Sequence[int] = (),
    holds: Sequence[int] = (),
    with_top: bool = False,
) -> list[Event]:
    """Simulate one (venue, instrument) over ``[start_ns, end_ns)``; see the module doc.

    The book exists (and churns) from ``start_ns``; the caller decides from which time on
    events are sent.
    """
    rng = random.Random(f"{seed}/{venue.name}/{inst.symbol}")
    quoter = Quoter(market, venue, inst, random.Random(f"{seed}/{venue.name}/{inst.symbol}/q"))
    step_ns = venue.publish_ms * _MS
    t = start_ns + phase_ns
    bid, ask, mid = quoter.touch(t)
    book = SynthBook(inst, mid, rng)
    book.init(bid, ask)
    trade_rate = venue.trade_rate * inst.trade_scale
    pending = sorted(snapshots)
    held = sorted(holds)
    out: list[Event] = []
    last_t = t
    t += step_ns
    while t < end_ns:
        _trades(book, rng, trade_rate, last_t, t, out)
        while pending and pending[0] <= t:
            bids, asks = book.published()
            out.append(SnapEv(pending.pop(0), last_t, bids, asks))
        bid, ask, _ = quoter.touch(t)
        book.step(bid, ask)
        if held and held[0] <= t:
            while held and held[0] <= t:
                held.pop(0)
            b, a = book.published_touch()
            out.append(BookEv(t, [], [], b, a, None))
            last_t = t
            t += step_ns
            continue
        bids, asks = book.flush()
        if bids or asks:
            b, a = book.touch()
            out.append(BookEv(t, bids, asks, b, a, book.top(TOP) if with_top else None))
        last_t = t
        t += step_ns
    return out


def _trades(
    book: SynthBook, rng: random.Random, rate: float, t0: int, t1: int, out: list[Event]
) -> None:
    if rate <= 0:
        return
    t = float(t0)
    while True:
        t += rng.expovariate(rate) * 1e9
        if t >= t1:
            return
        buy = rng.random() < 0.5
        hit = book.trade(buy)
        if hit is not None:
            out.append(TradeEv(int(t), buy, hit[0], hit[1]))

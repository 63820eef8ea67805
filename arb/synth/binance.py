"""Binance spot and USD-M diff. depth and trades, as the venue sends them.

One combined-stream connection ``ws0`` per venue (no subscribe message: the streams are in the
URL) and one REST depth snapshot per symbol, requested once the streams are open, so that it
arrives after the first few diffs, as in real life. Spot (``@depth@100ms``)::

    {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,
     "s":"BTCUSDT","U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"]],
     "a":[["61838.04000000","0.32332000"]]}}

Each changed level uses one to three update ids, so ``U`` is the previous ``u`` + 1. The
snapshot ``/api/v3/depth?symbol=BTCUSDT&limit=1000`` holds ``lastUpdateId`` L taken inside
the window of a diff: the buffered diffs with ``u <= L`` are dropped and the first kept one
has ``U <= L + 1 <= u``. USD-M (``@depth@0ms``, a diff every 50 ms) sends ``T`` and ``pu``
(the previous ``u``), its ids are shared with other symbols (``U > pu + 1``), both sides are
in ascending price order, and its snapshot (``/fapi/v1/depth``) satisfies ``U <= L <= u``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import msgspec

from arb.synth.book import Level
from arb.synth.book import apply_levels
from arb.synth.feed import BookEv
from arb.synth.feed import SnapEv
from arb.synth.feed import TradeEv
from arb.synth.feed import run_feed
from arb.synth.model import LatentMarket
from arb.synth.specs import InstrumentSpec
from arb.synth.specs import VenueSpec
from arb.synth.wire import Delivered
from arb.synth.wire import Fmt
from arb.synth.wire import Out
from arb.synth.wire import Top
from arb.synth.wire import deliver

__all__ = ["binance_frames"]

CONN = "ws0"
_MS = 1_000_000
REST_AFTER_MS = 150  # the client asks for the snapshot this long after the streams open

_encode = msgspec.json.encode


class _Stream:
    """Update ids and formatting of one symbol's diff. depth and trade streams."""

    def __init__(self, inst: InstrumentSpec, futures: bool, rng: random.Random) -> None:
        self.inst = inst
        self.futures = futures
        self.rng = rng
        self.fmt = Fmt(inst)
        lower = inst.venue_symbol.lower()
        self.depth_stream = f"{lower}@depth@0ms" if futures else f"{lower}@depth@100ms"
        self.trade_stream = f"{lower}@trade"
        path = "/fapi/v1/depth" if futures else "/api/v3/depth"
        self.rest_path = f"{path}?symbol={inst.venue_symbol}&limit=1000"
        self.u = rng.randrange(10**10, 6 * 10**10) * (100 if futures else 1)
        self.trade_id = rng.randrange(10**9, 6 * 10**9)
        self.snap: SnapEv | None = None

    def rows(self, levels: Sequence[Level]) -> list[list[str]]:
        px, sz, zero = self.fmt.px, self.fmt.sz, self.fmt.zero
        return [[px(t), sz(lots) if lots else zero] for t, lots, _ in levels]

    def ids(self, n: int) -> list[int]:
        hi = 60 if self.futures else 3
        return [self.rng.randint(1, hi) for _ in range(n)]

    def diff(self, ev: BookEv) -> tuple[bytes, Out | None]:
        """The diff of ``ev`` and, for the first diff after a snapshot request, the snapshot."""
        changes = ev.bids + ev.asks
        ids = self.ids(len(changes))
        pu = self.u
        first = pu + 1 + (self.rng.randrange(0, 200) if self.futures else 0)
        self.u = first + sum(ids) - 1
        ms = ev.ts // _MS
        data: dict[str, Any] = {"e": "depthUpdate", "E": ms}
        if self.futures:
            data["T"] = ms - self.rng.randint(0, 2)
        data.update({"s": self.inst.venue_symbol, "U": first, "u": self.u})
        if self.futures:
            data["pu"] = pu
        bids = ev.bids[::-1] if self.futures else ev.bids  # futures: ascending prices
        data.update({"b": self.rows(bids), "a": self.rows(ev.asks)})
        rest = None
        if self.snap is not None:
            rest = self._snapshot(self.snap, ev, changes, ids, first)
            self.snap = None
        payload = _encode({"stream": self.depth_stream, "data": data})
        return payload, rest

    def _snapshot(
        self, snap: SnapEv, ev: BookEv, changes: list[Level], ids: list[int], first: int
    ) -> Out:
        # The snapshot was taken inside this diff's window: after its first j changes.
        n = len(changes)
        j = self.rng.randrange(1, n + 1) if self.futures else self.rng.randrange(0, n)
        last_id = first + sum(ids[:j]) - 1
        bids = {t: (q, o) for t, q, o in snap.bids}
        asks = {t: (q, o) for t, q, o in snap.asks}
        nb = len(ev.bids)
        apply_levels(bids, changes[: min(j, nb)])
        apply_levels(asks, changes[nb:j])
        bid_rows = self.rows([(t, *bids[t]) for t in sorted(bids, reverse=True)])
        ask_rows = self.rows([(t, *asks[t]) for t in sorted(asks)])
        ms = snap.ts // _MS
        body: dict[str, Any] = {"lastUpdateId": last_id}
        if self.futures:
            body.update({"E": ms + 1, "T": ms})
        body.update({"bids": bid_rows, "asks": ask_rows})
        tick = self.fmt.tick
        top = Top(self.inst.symbol, max(bids) * tick, min(asks) * tick)
        return Out(snap.ts + 2 * _MS, self.rest_path, "r", _encode(body), top)

    def trade(self, ev: TradeEv) -> bytes:
        self.trade_id += 1
        ms = ev.ts // _MS
        sym, px, qty = self.inst.venue_symbol, self.fmt.px(ev.tick), self.fmt.sz(ev.lots)
        data: dict[str, Any]
        if self.futures:
            data = {"e": "trade", "E": ms, "T": ms, "s": sym, "t": self.trade_id, "p": px}
            data.update({"q": qty, "X": "MARKET", "m": not ev.buy})
        else:
            data = {"e": "trade", "E": ms, "s": sym, "t": self.trade_id, "p": px, "q": qty}
            data.update({"T": ms, "m": not ev.buy, "M": True})
        return _encode({"stream": self.trade_stream, "data": data})

    def top(self, ev: BookEv) -> Top:
        tick = self.fmt.tick
        return Top(self.inst.symbol, ev.bid * tick, ev.ask * tick)


def binance_frames(
    market: LatentMarket,
    venue: VenueSpec,
    insts: Sequence[InstrumentSpec],
    *,
    seed: int,
    start_ns: int,
    end_ns: int,
) -> list[Delivered]:
    """Every frame of one Binance (spot or USD-M) combined stream plus its REST snapshots."""
    futures = venue.family == "binance-usdm"
    rng = random.Random(f"{seed}/{venue.name}/wire")
    streams = [
        _Stream(i, futures, random.Random(f"{seed}/{venue.name}/{i.symbol}/seq")) for i in insts
    ]
    names = "/".join(f"{s.depth_stream}/{s.trade_stream}" for s in streams)
    t_open = start_ns + rng.randrange(2, 20) * _MS
    t_live = t_open + int(venue.latency_ms * _MS)  # the server starts streaming
    t_rest = t_open + (REST_AFTER_MS + int(venue.rest_latency_ms)) * _MS
    phase = rng.randrange(0, venue.publish_ms) * _MS
    ws: list[Out] = [Out(t_open, CONN, "+", (venue.ws_url + names).encode(), local=True)]
    rest: list[Out] = []
    for k, st in enumerate(streams):
        events = run_feed(
            market, venue, st.inst, seed=seed, phase_ns=phase, start_ns=start_ns,
            end_ns=end_ns, snapshots=[t_rest + k * 3 * _MS],
        )  # fmt: skip
        for ev in events:
            if isinstance(ev, SnapEv):
                st.snap = ev
            elif isinstance(ev, BookEv):
                payload, snap = st.diff(ev)
                if ev.ts > t_live:
                    ws.append(Out(ev.ts, CONN, "<", payload, st.top(ev)))
                if snap is not None:
                    rest.append(snap)
            elif ev.ts > t_live:
                ws.append(Out(ev.ts, CONN, "<", st.trade(ev), trade=True))
    return deliver(venue, ws, rng) + deliver(venue, rest, rng, rest=True)

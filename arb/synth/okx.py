"""OKX v5 public WebSocket, channels ``books`` and ``trades``, as the venue sends them.

One connection ``ws0`` to ``wss://ws.okx.com:8443/ws/v5/public``: arb sends one subscribe
(kind ``>``), OKX acks each arg, then per instrument a ``books`` snapshot (``prevSeqId`` -1)
and every 100 ms an ``update`` with the changed levels only (size ``"0"`` deletes)::

    {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["30243.5",
     "1.2112","0","4"]],"bids":[["30237.2","0","0","0"]],"ts":"1652459225464",
     "checksum":-914047754,"prevSeqId":123,"seqId":130}]}

``checksum`` is the signed CRC32 of the top 25 levels after the message (strings as sent).
``seqId`` grows by a random amount; ``prevSeqId`` is the previous ``seqId``. As the real venue
does, a run also holds keep-alives (``asks: []``, ``bids: []``, ``prevSeqId == seqId``; first
12-18 s in, then every 60 s) and sequence resets (``seqId < prevSeqId``; first 21-27 s in,
then every 120 s). Trades::

    {"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",
     "tradeId":"338476308","px":"30243.5","sz":"0.001","side":"buy","ts":"1652459226050"}]}
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import msgspec

from arb.synth.book import Level
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
from venues.okx.checksum import checksum_of

__all__ = ["okx_frames"]

CONN = "ws0"
_MS = 1_000_000
_S = 1_000_000_000
KEEPALIVE_FIRST_S, KEEPALIVE_EVERY_S = 12.0, 60.0
RESET_FIRST_S, RESET_EVERY_S = 21.0, 120.0

_encode = msgspec.json.encode


class _Stream:
    """Sequence and formatting state of one instrument's ``books`` channel."""

    def __init__(
        self, inst: InstrumentSpec, rng: random.Random, start_ns: int, end_ns: int
    ) -> None:
        self.inst = inst
        self.fmt = Fmt(inst)
        self.rng = rng
        self.arg = {"channel": "books", "instId": inst.venue_symbol}
        self.trade_arg = {"channel": "trades", "instId": inst.venue_symbol}
        self.seq = rng.randrange(1_000_000_000, 20_000_000_000)
        self.trade_id = rng.randrange(100_000_000, 900_000_000)
        self.snapped = False
        self.checksum = 0
        self.top: Top | None = None
        first = start_ns + int((KEEPALIVE_FIRST_S + rng.uniform(0, 6)) * _S)
        self.keepalives = range(first, end_ns, int(KEEPALIVE_EVERY_S * _S))
        self.next_reset = start_ns + int((RESET_FIRST_S + rng.uniform(0, 6)) * _S)

    def rows(self, levels: Sequence[Level]) -> list[list[str]]:
        px, sz = self.fmt.px, self.fmt.sz
        return [
            [px(t), sz(lots), "0", str(n)] if lots else [px(t), "0", "0", "0"]
            for t, lots, n in levels
        ]

    def push(self, action: str, data: dict[str, Any]) -> bytes:
        return _encode({"arg": self.arg, "action": action, "data": [data]})

    def snapshot(self, ev: SnapEv) -> bytes:
        bids, asks = self.rows(ev.bids), self.rows(ev.asks)
        self.checksum = checksum_of(bids, asks)
        self.snapped = True
        self.top = self._top(ev.bids[0][0] if ev.bids else 0, ev.asks[0][0] if ev.asks else 0)
        return self.push("snapshot", self._data(asks, bids, ev.state_ts, -1))

    def update(self, ev: BookEv) -> bytes:
        prev = self.seq
        if not ev.bids and not ev.asks:
            # Keep-alive: the book is unchanged for subscribers; same seqId and checksum.
            return self.push("update", self._data([], [], ev.ts, prev))
        if ev.ts >= self.next_reset:
            self.next_reset += int(RESET_EVERY_S * _S)
            self.seq = self.rng.randrange(1, 1000)
        else:
            self.seq += self.rng.randint(1, 30) + len(ev.bids) + len(ev.asks)
        assert ev.top is not None  # noqa: S101 - requested by okx_frames
        top_b, top_a = ev.top
        px, sz = self.fmt.px, self.fmt.sz
        self.checksum = checksum_of(
            [(px(t), sz(q)) for t, q in top_b], [(px(t), sz(q)) for t, q in top_a]
        )
        self.top = self._top(ev.bid, ev.ask)
        return self.push("update", self._data(self.rows(ev.asks), self.rows(ev.bids), ev.ts, prev))

    def _data(
        self, asks: list[list[str]], bids: list[list[str]], ts: int, prev: int
    ) -> dict[str, Any]:
        return {
            "asks": asks,
            "bids": bids,
            "ts": str(ts // _MS),
            "checksum": self.checksum,
            "prevSeqId": prev,
            "seqId": self.seq,
        }

    def trade(self, ev: TradeEv) -> bytes:
        self.trade_id += 1
        sym = self.inst.venue_symbol
        data = {
            "instId": sym,
            "tradeId": str(self.trade_id),
            "px": self.fmt.px(ev.tick),
            "sz": self.fmt.sz(ev.lots),
            "side": "buy" if ev.buy else "sell",
            "ts": str(ev.ts // _MS),
        }
        return _encode({"arg": self.trade_arg, "data": [data]})

    def _top(self, bid: int, ask: int) -> Top:
        tick = self.fmt.tick
        return Top(self.inst.symbol, bid * tick, ask * tick)


def okx_frames(
    market: LatentMarket,
    venue: VenueSpec,
    insts: Sequence[InstrumentSpec],
    *,
    seed: int,
    start_ns: int,
    end_ns: int,
    markets: Mapping[str, LatentMarket] | None = None,
) -> list[Delivered]:
    """Every frame of one OKX connection carrying ``books`` and ``trades`` of ``insts``.

    ``markets`` may give a symbol its own latent market (``arb.synth.triangular`` dislocates
    one pair of a triangle that way); the others follow ``market``.
    """
    rng = random.Random(f"{seed}/{venue.name}/wire")
    t_open = start_ns + rng.randrange(2, 20) * _MS
    t_sub = t_open + rng.randrange(1, 5) * _MS
    t_srv = t_sub + int(venue.latency_ms * _MS)
    phase = rng.randrange(0, venue.publish_ms) * _MS
    streams = [
        _Stream(i, random.Random(f"{seed}/{venue.name}/{i.symbol}/seq"), start_ns, end_ns)
        for i in insts
    ]
    args = [s.arg for s in streams] + [s.trade_arg for s in streams]
    conn_id = f"{rng.getrandbits(32):08x}"
    outs: list[Out] = [
        Out(t_open, CONN, "+", venue.ws_url.encode(), local=True),
        Out(t_sub, CONN, ">", _encode({"op": "subscribe", "args": args}), local=True),
    ]
    outs.extend(
        Out(
            t_srv + k * 10_000,
            CONN,
            "<",
            _encode({"event": "subscribe", "arg": a, "connId": conn_id}),
        )
        for k, a in enumerate(args)
    )
    t_snap = t_srv + 2 * _MS
    for st in streams:
        mkt = (markets or {}).get(st.inst.symbol, market)
        events = run_feed(
            mkt, venue, st.inst, seed=seed, phase_ns=phase, start_ns=start_ns,
            end_ns=end_ns, snapshots=[t_snap], holds=st.keepalives, with_top=True,
        )  # fmt: skip
        for ev in events:
            if isinstance(ev, SnapEv):
                outs.append(Out(ev.ts, CONN, "<", st.snapshot(ev), st.top))
            elif not st.snapped:
                continue
            elif isinstance(ev, BookEv):
                outs.append(Out(ev.ts, CONN, "<", st.update(ev), st.top))
            elif ev.ts > t_srv:
                outs.append(Out(ev.ts, CONN, "<", st.trade(ev), trade=True))
    return deliver(venue, outs, rng)

"""Binance wire Structs: field names verbatim from the venue documentation.

Only the fields arb reads are declared ("view" Structs); msgspec skips the others. WebSocket
events are a tagged union on ``"e"``, so an envelope and its payload decode in one pass. Spot
``bookTicker`` events carry no ``"e"`` and have their own Structs. Each event converts itself to
a normalized ``arb.core.events`` event with one method, at the instrument's precisions.
"""

from __future__ import annotations

import msgspec

from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import Quote
from arb.core.events import TextBookDelta
from arb.core.events import Trade
from arb.core.scaler import RawScaler

__all__ = [
    "BinanceAggTradeMsg",
    "BinanceBookTickerMsg",
    "BinanceDepthMsg",
    "BinanceDepthSnapshotMsg",
    "BinanceEventMsg",
    "BinanceExchangeInfoMsg",
    "BinanceFilterMsg",
    "BinanceRowMsg",
    "BinanceSpotBookTickerMsg",
    "BinanceSpotBookTickerStreamMsg",
    "BinanceStreamMsg",
    "BinanceSymbolInfoMsg",
]

MS = 1_000_000  # nanoseconds per millisecond

Row = tuple[str, str]


class BinanceRowMsg(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One diff. depth row ``["42001.50","3.250"]`` (a ``TextRow``: applied as text)."""

    px: str
    sz: str


# -- WebSocket events (tagged on "e") -----------------------------------------------------


class BinanceDepthMsg(msgspec.Struct, tag_field="e", tag="depthUpdate", frozen=True, gc=False):
    """Diff. depth event (spot; futures add ``T`` and ``pu``)::

    {"e":"depthUpdate","E":1700000000200,"T":1700000000195,"s":"BTCUSDT","U":2001,"u":2010,
     "pu":2000,"b":[["42001.50","3.250"]],"a":[["42001.60","0.000"],["42002.00","1.001"]]}
    """

    E: int
    s: str
    U: int
    u: int
    b: list[BinanceRowMsg]
    a: list[BinanceRowMsg]
    pu: int = NO_SEQ

    def to_event(self, sc: RawScaler, ts_recv: int) -> BookDelta:
        """Return the ``BookDelta`` of this event (``prev_seq`` is ``NO_SEQ`` on spot)."""
        inst = sc.inst
        return BookDelta(
            venue=inst.venue,
            symbol=inst.symbol,
            channel="depth",
            ts_event=self.E * MS,
            ts_recv=ts_recv,
            first_seq=self.U,
            last_seq=self.u,
            prev_seq=self.pu,
            bids=sc.rows(self.b),
            asks=sc.rows(self.a),
        )

    def to_text_event(self, sc: RawScaler, ts_recv: int) -> TextBookDelta:
        """The same update with its rows as text, converted by the book as it applies them."""
        inst = sc.inst
        return TextBookDelta(
            inst.venue,
            inst.symbol,
            "depth",
            self.E * MS,
            ts_recv,
            self.U,
            self.u,
            self.pu,
            self.b,
            self.a,
            sc,
        )


class BinanceBookTickerMsg(msgspec.Struct, tag_field="e", tag="bookTicker", frozen=True):
    """Futures best bid/offer (USD-M, COIN-M)::

    {"e":"bookTicker","u":2011,"s":"BTCUSDT","b":"42001.50","B":"3.250","a":"42002.00",
     "A":"1.001","T":1700000000201,"E":1700000000202}
    """

    u: int
    s: str
    b: str
    B: str
    a: str
    A: str
    E: int = 0

    def to_event(self, sc: RawScaler, ts_recv: int) -> Quote:
        """Return the ``Quote`` of this event (``ts_event`` from ``E``)."""
        return _quote(self, sc, self.E * MS if self.E else ts_recv, ts_recv)


class BinanceTradeMsg(msgspec.Struct, tag_field="e", tag="trade", frozen=True):
    """Trade (``m``: the buyer is the maker, so the taker sold)::

    {"e":"trade","E":1700000000400,"s":"BTCUSDT","t":777001,"p":"42000.20000000",
     "q":"0.01000000","T":1700000000399,"m":false,"M":true}
    """

    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool

    def to_event(self, sc: RawScaler, ts_recv: int) -> Trade:
        """Return the ``Trade`` of this event (taker side from ``m``)."""
        return _trade(sc, str(self.t), self.p, self.q, self.m, self.T, ts_recv)


class BinanceAggTradeMsg(msgspec.Struct, tag_field="e", tag="aggTrade", frozen=True):
    """Aggregate trade (``a``: aggregate trade id)::

    {"e":"aggTrade","E":1700000000500,"a":88001,"s":"BTCUSD_PERP","p":"41990.5","q":"3",
     "f":99001,"l":99003,"T":1700000000498,"m":true}
    """

    s: str
    a: int
    p: str
    q: str
    T: int
    m: bool

    def to_event(self, sc: RawScaler, ts_recv: int) -> Trade:
        """Return the ``Trade`` of this event (trade id = aggregate id)."""
        return _trade(sc, str(self.a), self.p, self.q, self.m, self.T, ts_recv)


BinanceEventMsg = BinanceDepthMsg | BinanceBookTickerMsg | BinanceTradeMsg | BinanceAggTradeMsg


class BinanceStreamMsg(msgspec.Struct, frozen=True, gc=False):
    """Combined-stream envelope around an event with ``"e"``::

    {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate",...}}
    """

    stream: str
    data: BinanceEventMsg


# -- spot bookTicker: no "e" ----------------------------------------------------------------


class BinanceSpotBookTickerMsg(msgspec.Struct, frozen=True):
    """Spot best bid/offer; it has neither ``e`` nor a time (``ts_event`` = ``ts_recv``)::

    {"u":1006,"s":"BTCUSDT","b":"42000.10000000","B":"1.50000000","a":"42000.20000000",
     "A":"0.25000000"}
    """

    u: int
    s: str
    b: str
    B: str
    a: str
    A: str

    def to_event(self, sc: RawScaler, ts_recv: int) -> Quote:
        """Return the ``Quote`` of this event, stamped with the receive time."""
        return _quote(self, sc, ts_recv, ts_recv)


class BinanceSpotBookTickerStreamMsg(msgspec.Struct, frozen=True):
    """Combined-stream envelope around a spot ``bookTicker``::

    {"stream":"btcusdt@bookTicker","data":{"u":1006,"s":"BTCUSDT",...}}
    """

    stream: str
    data: BinanceSpotBookTickerMsg


# -- REST -----------------------------------------------------------------------------------


class BinanceDepthSnapshotMsg(msgspec.Struct, frozen=True, gc=False):
    """REST depth snapshot (futures add ``E``/``T``; COIN-M adds ``symbol``/``pair``)::

    {"lastUpdateId":3002,"E":1700000000280,"T":1700000000275,"symbol":"BTCUSD_PERP",
     "pair":"BTCUSD","bids":[["41990.5","100"]],"asks":[["41990.6","10"]]}
    """

    lastUpdateId: int
    bids: list[Row]
    asks: list[Row]
    E: int = 0
    T: int = 0
    symbol: str = ""

    def to_snapshot(self, sc: RawScaler, ts_recv: int) -> BookSnapshot:
        """Return the ``BookSnapshot`` (``seq`` = ``lastUpdateId``; time from E, T or receipt)."""
        inst = sc.inst
        ts_ms = self.E or self.T
        return BookSnapshot(
            venue=inst.venue,
            symbol=inst.symbol,
            channel="depth",
            ts_event=ts_ms * MS if ts_ms else ts_recv,
            ts_recv=ts_recv,
            seq=self.lastUpdateId,
            bids=sc.levels(self.bids),
            asks=sc.levels(self.asks),
        )


class BinanceFilterMsg(msgspec.Struct, frozen=True):
    """One entry of ``filters`` in exchangeInfo (only the fields arb reads)::

    {"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000",
     "tickSize":"0.01000000"}
    """

    filterType: str
    tickSize: str = ""
    stepSize: str = ""
    minQty: str = ""
    minNotional: str = ""
    notional: str = ""


class BinanceSymbolInfoMsg(msgspec.Struct, frozen=True, gc=False):
    """One entry of ``symbols`` in exchangeInfo (spot, USD-M or COIN-M)."""

    symbol: str
    baseAsset: str
    quoteAsset: str
    status: str = ""
    contractStatus: str = ""
    contractType: str = ""
    deliveryDate: int = 0
    contractSize: int | str = ""
    marginAsset: str = ""
    filters: list[BinanceFilterMsg] = []


class BinanceExchangeInfoMsg(msgspec.Struct, frozen=True, gc=False):
    """``/api/v3/exchangeInfo``, ``/fapi/v1/exchangeInfo`` or ``/dapi/v1/exchangeInfo`` body."""

    symbols: list[BinanceSymbolInfoMsg]


# -- shared conversions ---------------------------------------------------------------------


def _quote(
    m: BinanceBookTickerMsg | BinanceSpotBookTickerMsg,
    sc: RawScaler,
    ts_event: int,
    ts_recv: int,
) -> Quote:
    inst = sc.inst
    px = sc.px
    qty = sc.qty
    return Quote(
        venue=inst.venue,
        symbol=inst.symbol,
        channel="bookTicker",
        ts_event=ts_event,
        ts_recv=ts_recv,
        seq=m.u,
        bid_px=px(m.b),
        bid_qty=qty(m.B),
        ask_px=px(m.a),
        ask_qty=qty(m.A),
    )


def _trade(
    sc: RawScaler, trade_id: str, px: str, qty: str, buyer_maker: bool, t_ms: int, ts_recv: int
) -> Trade:
    inst = sc.inst
    return Trade(
        venue=inst.venue,
        symbol=inst.symbol,
        ts_event=t_ms * MS,
        ts_recv=ts_recv,
        trade_id=trade_id,
        px=sc.px(px),
        qty=sc.qty(qty),
        side="sell" if buyer_maker else "buy",
    )

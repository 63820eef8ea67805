"""OKX v5 market-data codec: raw WebSocket pushes and REST bodies -> normalized events.

Handled (``/ws/v5/public``): ``books``, ``books-l2-tbt``, ``books50-l2-tbt`` (snapshot +
incremental, ``seqId``/``prevSeqId``, CRC32 ``checksum``), ``books5`` (top-5 snapshots),
``bbo-tbt`` and ``tickers`` (quotes), ``trades``, ``funding-rate`` (``FundingRate``) and
``mark-price`` (``MarkPrice``); REST ``GET /api/v5/market/books``,
``/api/v5/public/funding-rate`` and ``/api/v5/public/mark-price``.
Events (subscribe acks, errors, notices, ...), the text frame ``pong`` and other channels
decode to no events.

Each frame is decoded in one msgspec pass (``OkxWsMsg``, book rows as price and size only);
prices and sizes are converted to raw integers once, here, with the instrument's precisions.
The conversions go through a small per-instrument memo (``str -> int``, bounded): book updates
repeat the price and size strings already seen (about 80% of the rows of a real 2022 ``books``
stream), and a dict hit costs a fraction of a conversion. Values are exactly those of
``Instrument.px_to_raw`` / ``qty_to_raw``; a string that does not fit is never memoized
and raises ``PrecisionError`` every time.

Book events carry the rows exactly as received (``raw_bids``/``raw_asks``, for the CRC32
checksum) on snapshots, on updates with a non-zero ``checksum``, and on every update of an
instrument once one of its book messages had a checksum; otherwise (OKX has sent checksum 0
since June 2026) they carry ``None`` and the frame is decoded once. The raw rows come from a
second decode of the frame (``OkxWsRawBooksMsg``).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN
from decimal import Decimal
from decimal import InvalidOperation
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import msgspec

from arb.core.errors import DecodeError
from arb.core.errors import PrecisionError
from arb.core.errors import UnknownInstrument
from arb.core.errors import VenueError
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import FundingRate
from arb.core.events import MarketEvent
from arb.core.events import MarkPrice
from arb.core.events import Quote
from arb.core.events import TextBookDelta
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.numbers import to_raw
from arb.core.scaler import RawScaler
from arb.core.sequencing import NoSequenceRule
from arb.core.sequencing import OkxRule
from arb.core.sync import BookSpec
from arb.recording import Kind
from venues.okx.checksum import book_checksum
from venues.okx.schemas import OkxBooksRestMsg
from venues.okx.schemas import OkxRowMsg
from venues.okx.schemas import OkxWsArgMsg
from venues.okx.schemas import OkxWsDataMsg
from venues.okx.schemas import OkxWsMsg
from venues.okx.schemas import OkxWsRawBooksMsg
from venues.okx.schemas import public_rest_decoder
from venues.okx.schemas import ws_decoder

__all__ = [
    "BOOK_CHANNELS",
    "INCREMENTAL_CHANNELS",
    "REST_BOOKS_PATH",
    "REST_FUNDING_PATH",
    "REST_MARK_PATH",
    "OkxCodec",
    "rate_to_ppb",
]

VENUE = "okx"
INCREMENTAL_CHANNELS = frozenset(("books", "books-l2-tbt", "books50-l2-tbt"))
"""Channels sending a snapshot then updates, with ``seqId``/``prevSeqId`` and ``checksum``."""
BOOK_CHANNELS = INCREMENTAL_CHANNELS | {"books5"}
REST_BOOKS_PATH = "/api/v5/market/books"
REST_BOOKS_CHANNEL = "books"
"""A REST book snapshot feeds the ``books`` book (same depth, same sequence ids)."""
REST_FUNDING_PATH = "/api/v5/public/funding-rate"
REST_MARK_PATH = "/api/v5/public/mark-price"
_NS_PER_MS = 1_000_000

_PONG = b"pong"
_RECV = Kind.RECV
_SIDES = frozenset(("buy", "sell"))

Levels = list[tuple[int, int]]
Getter = Callable[[str], int]


Handler = Callable[[OkxWsMsg, OkxWsArgMsg, int, bytes], list[MarketEvent]]


class OkxCodec:
    """``arb.ports.FrameCodec`` for OKX v5 public market data.

    Parameters
    ----------
    instruments
        Instruments of any venue; those of venue ``"okx"`` are kept, keyed by ``instId``
        (``Instrument.venue_symbol``).
    """

    venue = VENUE

    def __init__(self, instruments: Iterable[Instrument], *, text_deltas: bool = False) -> None:
        self._instruments = [i for i in instruments if i.venue == VENUE]
        self._markets: dict[str, RawScaler] = {
            i.venue_symbol: RawScaler(i) for i in self._instruments
        }
        # The book channels: instId -> (symbol, price getter, size getter).
        self._book_markets: dict[str, tuple[str, Getter, Getter]] = {
            k: (m.symbol, *m.getters()) for k, m in self._markets.items()
        }
        # instId -> (symbol, scaler) of the instruments whose updates go out as text
        # (``TextBookDelta``, converted as the book applies them; the engine asks for it with
        # ``text_deltas``): all of them, until one of their book messages carries a checksum.
        self._text: dict[str, tuple[str, RawScaler]] = (
            {k: (m.symbol, m) for k, m in self._markets.items()} if text_deltas else {}
        )
        # instIds whose book messages had a non-zero checksum: their updates keep raw rows.
        self._checksummed: set[str] = set()
        self._ws = ws_decoder()
        self._ws_raw_books = msgspec.json.Decoder(OkxWsRawBooksMsg)
        self._rest_books = msgspec.json.Decoder(OkxBooksRestMsg)
        self._rest_public = public_rest_decoder()
        self._any = msgspec.json.Decoder()
        self._handlers: dict[str, Handler] = {
            "books": self._books,
            "books-l2-tbt": self._books,
            "books50-l2-tbt": self._books,
            "books5": self._books5,
            "bbo-tbt": self._bbo,
            "tickers": self._tickers,
            "trades": self._trades,
            "funding-rate": self._funding,
            "mark-price": self._mark,
        }
        self._incremental_spec = BookSpec(OkxRule(), book_checksum)
        self._top_spec = BookSpec(NoSequenceRule(), None)

    # -- FrameCodec ----------------------------------------------------------------------

    def decode(self, kind: str, conn: str, payload: bytes, ts_recv: int) -> list[MarketEvent]:
        """Decode one frame into normalized events (see ``arb.ports.FrameCodec``).

        Parameters
        ----------
        kind
            ``"<"`` (WebSocket frame received) or ``"r"`` (REST body); other kinds give ``[]``.
        conn
            The connection id, or for REST the request path with its query
            (``/api/v5/market/books?instId=BTC-USDT&sz=400``).
        payload
            The frame as received.
        ts_recv
            Local receive time, ns.

        Returns
        -------
        list[MarketEvent]
            One event per ``data`` entry (``[]`` for events, ``pong``, other channels).

        Raises
        ------
        DecodeError
            Malformed JSON or a frame of an unexpected shape (the message names conn and
            channel).
        UnknownInstrument
            The frame names an ``instId`` that is not among the instruments.
        PrecisionError
            A price or size does not fit the instrument's precision.
        VenueError
            A REST book response with ``code`` other than ``"0"``.
        """
        if kind != _RECV:
            if kind == Kind.REST:
                return self._decode_rest(conn, payload, ts_recv)
            return []
        # WebSocket frames, inline (the hot path).
        if payload == _PONG:
            return []
        try:
            msg = self._ws.decode(payload)
        except msgspec.DecodeError as e:
            return self._undecodable(conn, payload, e)
        if msg.event:
            return []
        arg = msg.arg
        if arg is None:
            raise DecodeError(f"okx {conn}: frame has neither 'event' nor 'arg': {payload[:120]!r}")
        if msg.action == "update":
            # The hot path (``text_deltas``): one update without a checksum, as text rows.
            text = self._text.get(arg.instId)
            data = msg.data
            if text is not None and len(data) == 1 and arg.channel in INCREMENTAL_CHANNELS:
                d = data[0]
                if not d.checksum:
                    seq = d.seqId
                    return [
                        TextBookDelta(
                            VENUE,
                            text[0],
                            arg.channel,
                            d.ts * 1_000_000,
                            ts_recv,
                            seq,
                            seq,
                            d.prevSeqId,
                            d.bids,
                            d.asks,
                            text[1],
                        )
                    ]
        handler = self._handlers.get(arg.channel)
        if handler is None:
            return []
        try:
            return handler(msg, arg, ts_recv, payload)
        except (ValueError, IndexError) as e:
            # (msgspec.DecodeError is a ValueError: a raw-rows decode that fails lands here)
            raise DecodeError(f"okx {conn} channel {arg.channel!r}: {e}") from e

    def book_spec(self, symbol: str, channel: str) -> BookSpec:
        """Return the sequence rule and checksum of the book fed by ``channel``.

        ``books``, ``books-l2-tbt`` and ``books50-l2-tbt``: ``OkxRule`` and the CRC32
        checksum (verified when the venue's value is non-zero); ``books5``: no sequence, no
        checksum (every push replaces the top 5). Raises ``ValueError`` for other channels.
        """
        if channel in INCREMENTAL_CHANNELS:
            return self._incremental_spec
        if channel == "books5":
            return self._top_spec
        raise ValueError(f"okx channel {channel!r} feeds no book (symbol {symbol!r})")

    def instruments(self) -> list[Instrument]:
        """Return the OKX instruments this codec was built with."""
        return list(self._instruments)

    # -- WebSocket -----------------------------------------------------------------------

    def _undecodable(self, conn: str, payload: bytes, e: msgspec.DecodeError) -> list[MarketEvent]:
        # Error path only. A frame of a channel arb does not read (candles send lists) may not
        # fit OkxWsMsg: ignore it. A handled channel that does not fit is an error.
        try:
            obj = self._any.decode(payload)
        except msgspec.DecodeError:
            raise DecodeError(f"okx {conn}: malformed JSON ({e}): {payload[:120]!r}") from e
        channel = None
        if isinstance(obj, dict):
            if "event" in obj:
                return []
            arg = obj.get("arg")
            channel = arg.get("channel") if isinstance(arg, dict) else None
            if isinstance(channel, str) and channel not in self._handlers:
                return []
        raise DecodeError(
            f"okx {conn} channel {channel!r}: unexpected shape ({e}): {payload[:120]!r}"
        ) from e

    def _market(self, inst_id: str, channel: str) -> RawScaler:
        m = self._markets.get(inst_id)
        if m is None:
            raise _unknown(inst_id, channel)
        return m

    def _books(
        self, msg: OkxWsMsg, arg: OkxWsArgMsg, ts_recv: int, payload: bytes
    ) -> list[MarketEvent]:
        """Incremental book channels (``books``, ``books-l2-tbt``, ``books50-l2-tbt``).

        Sample::

            {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[
             {"asks":[["30249.4","0","0","0"]],"bids":[["30182.6","0.5","0","1"]],
              "ts":"1652459225464","checksum":-914047754,"prevSeqId":122,"seqId":123}]}
        """
        channel = arg.channel
        inst_id = arg.instId
        market = self._book_markets.get(inst_id)
        if market is None:
            raise _unknown(inst_id, channel)
        symbol, px, qty = market
        action = msg.action
        if action == "update":
            snapshot = False
        elif action == "snapshot":
            snapshot = True
        else:
            raise ValueError(f"action was {action!r}, expected 'snapshot' or 'update'")
        checksummed = self._checksummed
        keep_raw = snapshot or inst_id in checksummed
        data = msg.data
        if not keep_raw and len(data) == 1:
            # The hot path: one update, no raw rows kept (checksum 0, as OKX sends).
            d = data[0]
            checksum = d.checksum
            if not checksum:
                bids = [(px(r.px), qty(r.sz)) for r in d.bids]
                asks = [(px(r.px), qty(r.sz)) for r in d.asks]
                seq = d.seqId
                return [
                    BookDelta(
                        venue=VENUE,
                        symbol=symbol,
                        channel=channel,
                        ts_event=d.ts * 1_000_000,
                        ts_recv=ts_recv,
                        first_seq=seq,
                        last_seq=seq,
                        prev_seq=d.prevSeqId,
                        bids=bids,
                        asks=asks,
                    )
                ]
        raw: OkxWsRawBooksMsg | None = None
        out: list[MarketEvent] = []
        for i, d in enumerate(data):
            bids = [(px(r.px), qty(r.sz)) for r in d.bids]
            asks = [(px(r.px), qty(r.sz)) for r in d.asks]
            checksum = d.checksum
            raw_bids = raw_asks = None
            if checksum or keep_raw:
                if checksum and inst_id not in checksummed:
                    checksummed.add(inst_id)
                    self._text.pop(inst_id, None)  # its updates keep raw rows from now on
                if raw is None:
                    raw = self._ws_raw_books.decode(payload)
                rd = raw.data[i]
                raw_bids = rd.bids
                raw_asks = rd.asks
            if snapshot:
                out.append(
                    BookSnapshot(
                        venue=VENUE,
                        symbol=symbol,
                        channel=channel,
                        ts_event=d.ts * 1_000_000,
                        ts_recv=ts_recv,
                        seq=d.seqId,
                        bids=bids,
                        asks=asks,
                        checksum=checksum,
                        raw_bids=raw_bids,
                        raw_asks=raw_asks,
                    )
                )
            else:
                seq = d.seqId
                out.append(
                    BookDelta(
                        venue=VENUE,
                        symbol=symbol,
                        channel=channel,
                        ts_event=d.ts * 1_000_000,
                        ts_recv=ts_recv,
                        first_seq=seq,
                        last_seq=seq,
                        prev_seq=d.prevSeqId,
                        bids=bids,
                        asks=asks,
                        checksum=checksum,
                        raw_bids=raw_bids,
                        raw_asks=raw_asks,
                    )
                )
        return out

    def _books5(
        self, msg: OkxWsMsg, arg: OkxWsArgMsg, ts_recv: int, payload: bytes
    ) -> list[MarketEvent]:
        """``books5``: the top 5 levels, replaced on every push (no action, no checksum).

        Sample::

            {"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["30243.5",
             "1.44","0","6"]],"bids":[["30236.1","0.2","0","2"]],"instId":"BTC-USDT",
             "ts":"1652459225464","seqId":123}]}
        """
        out: list[MarketEvent] = []
        for d in msg.data:
            m = self._market(d.instId or arg.instId, arg.channel)
            out.append(
                BookSnapshot(
                    venue=VENUE,
                    symbol=m.symbol,
                    channel=arg.channel,
                    ts_event=d.ts * 1_000_000,
                    ts_recv=ts_recv,
                    seq=d.seqId,
                    bids=_levels(m, d.bids),
                    asks=_levels(m, d.asks),
                    partial=True,
                )
            )
        return out

    def _bbo(
        self, msg: OkxWsMsg, arg: OkxWsArgMsg, ts_recv: int, payload: bytes
    ) -> list[MarketEvent]:
        """``bbo-tbt``: best bid and ask (one level per side; a side may be empty).

        Sample::

            {"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["30243.5",
             "1.44","0","6"]],"bids":[["30236.1","0.2","0","2"]],"ts":"1652459225464",
             "seqId":123}]}
        """
        out: list[MarketEvent] = []
        m = self._market(arg.instId, arg.channel)
        for d in msg.data:
            bid = d.bids[0] if d.bids else None
            ask = d.asks[0] if d.asks else None
            out.append(
                Quote(
                    venue=VENUE,
                    symbol=m.symbol,
                    channel=arg.channel,
                    ts_event=d.ts * 1_000_000,
                    ts_recv=ts_recv,
                    seq=d.seqId,
                    bid_px=0 if bid is None else m.px(bid.px),
                    bid_qty=0 if bid is None else m.qty(bid.sz),
                    ask_px=0 if ask is None else m.px(ask.px),
                    ask_qty=0 if ask is None else m.qty(ask.sz),
                )
            )
        return out

    def _tickers(
        self, msg: OkxWsMsg, arg: OkxWsArgMsg, ts_recv: int, payload: bytes
    ) -> list[MarketEvent]:
        """``tickers``: best bid/ask and last trade price (empty strings read as 0).

        Sample::

            {"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT",
             "instId":"BTC-USDT","last":"30236","lastSz":"0.0002","askPx":"30243.5",
             "askSz":"1.44","bidPx":"30236.1","bidSz":"0.2","ts":"1652459224818", ...}]}
        """
        out: list[MarketEvent] = []
        for d in msg.data:
            m = self._market(d.instId or arg.instId, arg.channel)
            out.append(
                Quote(
                    venue=VENUE,
                    symbol=m.symbol,
                    channel=arg.channel,
                    ts_event=d.ts * 1_000_000,
                    ts_recv=ts_recv,
                    bid_px=m.px(d.bidPx) if d.bidPx else 0,
                    bid_qty=m.qty(d.bidSz) if d.bidSz else 0,
                    ask_px=m.px(d.askPx) if d.askPx else 0,
                    ask_qty=m.qty(d.askSz) if d.askSz else 0,
                    last_px=m.px(d.last) if d.last else 0,
                )
            )
        return out

    def _trades(
        self, msg: OkxWsMsg, arg: OkxWsArgMsg, ts_recv: int, payload: bytes
    ) -> list[MarketEvent]:
        """``trades``: one ``Trade`` per entry; ``side`` is the taker's side.

        Sample::

            {"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",
             "tradeId":"338476307","px":"30236","sz":"0.0002","side":"buy",
             "ts":"1652459224818"}]}
        """
        out: list[MarketEvent] = []
        for d in msg.data:
            m = self._market(d.instId or arg.instId, arg.channel)
            if d.side not in _SIDES:
                raise ValueError(f"trade {d.tradeId!r} side was {d.side!r}")
            out.append(
                Trade(
                    venue=VENUE,
                    symbol=m.symbol,
                    ts_event=d.ts * 1_000_000,
                    ts_recv=ts_recv,
                    trade_id=d.tradeId,
                    px=m.px(d.px),
                    qty=m.qty(d.sz),
                    side=d.side,
                )
            )
        return out

    def _funding(
        self, msg: OkxWsMsg, arg: OkxWsArgMsg, ts_recv: int, payload: bytes
    ) -> list[MarketEvent]:
        """``funding-rate`` (perpetual swaps): one ``FundingRate`` per entry.

        Sample::

            {"arg":{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},"data":[
             {"instType":"SWAP","instId":"BTC-USDT-SWAP","method":"current_period",
              "fundingRate":"0.0001","fundingTime":"1652457600000",
              "nextFundingTime":"1652486400000","settState":"settled","ts":"1652459224818"}]}
        """
        market = self._market
        return [
            _funding_rate(market(d.instId or arg.instId, arg.channel), d, ts_recv) for d in msg.data
        ]

    def _mark(
        self, msg: OkxWsMsg, arg: OkxWsArgMsg, ts_recv: int, payload: bytes
    ) -> list[MarketEvent]:
        """``mark-price``: one ``MarkPrice`` per entry.

        Sample::

            {"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[
             {"instType":"SWAP","instId":"BTC-USDT-SWAP","markPx":"30241.2",
              "ts":"1652459224818"}]}
        """
        market = self._market
        return [
            _mark_price(market(d.instId or arg.instId, arg.channel), d, ts_recv) for d in msg.data
        ]

    # -- REST ----------------------------------------------------------------------------

    def _decode_rest(self, conn: str, payload: bytes, ts_recv: int) -> list[MarketEvent]:
        """REST bodies: ``GET /api/v5/market/books`` -> a ``books`` snapshot; others -> [].

        Sample (``/api/v5/market/books?instId=BTC-USDT&sz=400``)::

            {"code":"0","msg":"","data":[{"asks":[["30243.5","1.44","0","6"]],
             "bids":[["30236.1","0.2","0","2"]],"ts":"1652459225464","seqId":123}]}
        """
        parts = urlsplit(conn)
        if parts.path in (REST_FUNDING_PATH, REST_MARK_PATH):
            return self._decode_rest_public(conn, parts.path, parts.query, payload, ts_recv)
        if parts.path != REST_BOOKS_PATH:
            return []
        inst_ids = parse_qs(parts.query).get("instId")
        if not inst_ids:
            raise DecodeError(f"okx {conn}: REST book request has no instId in its query")
        m = self._market(inst_ids[0], REST_BOOKS_CHANNEL)
        try:
            msg = self._rest_books.decode(payload)
        except msgspec.DecodeError as e:
            raise DecodeError(f"okx {conn}: malformed REST book ({e}): {payload[:120]!r}") from e
        if msg.code != "0":
            raise VenueError(
                f"okx {conn}: error code {msg.code}: {msg.msg}", venue=VENUE, code=msg.code
            )
        if not msg.data:
            raise DecodeError(f"okx {conn}: REST book response has no data")
        d = msg.data[0]
        try:
            snap = BookSnapshot(
                venue=VENUE,
                symbol=m.symbol,
                channel=REST_BOOKS_CHANNEL,
                ts_event=int(d.ts) * 1_000_000,
                ts_recv=ts_recv,
                seq=d.seqId,
                bids=m.levels(d.bids),
                asks=m.levels(d.asks),
                raw_bids=d.bids,
                raw_asks=d.asks,
            )
        except (ValueError, IndexError) as e:
            raise DecodeError(f"okx {conn}: {e}") from e
        return [snap]

    def _decode_rest_public(
        self, conn: str, path: str, query: str, payload: bytes, ts_recv: int
    ) -> list[MarketEvent]:
        """``public/funding-rate`` -> ``FundingRate``s, ``public/mark-price`` -> ``MarkPrice``s.

        When the query names an ``instId`` (not ``ANY``), every entry must be a known
        instrument (``UnknownInstrument`` otherwise); a venue-wide answer (``instId=ANY``, or
        ``mark-price`` by ``instType`` / ``instFamily``) lists every swap, and the entries of
        instruments the codec does not have are skipped.

        Sample (``/api/v5/public/mark-price?instType=SWAP&instId=BTC-USDT-SWAP``)::

            {"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP",
             "markPx":"30241.2","ts":"1652459224818"}]}
        """
        funding = path == REST_FUNDING_PATH
        channel = "funding-rate" if funding else "mark-price"
        asked = parse_qs(query).get("instId", [""])[0]
        strict = bool(asked) and asked != "ANY"
        if funding and not asked:
            raise DecodeError(f"okx {conn}: REST funding-rate request has no instId in its query")
        try:
            msg = self._rest_public.decode(payload)
        except msgspec.DecodeError as e:
            raise DecodeError(
                f"okx {conn}: malformed REST {channel} ({e}): {payload[:120]!r}"
            ) from e
        if msg.code != "0":
            raise VenueError(
                f"okx {conn}: error code {msg.code}: {msg.msg}", venue=VENUE, code=msg.code
            )
        convert = _funding_rate if funding else _mark_price
        out: list[MarketEvent] = []
        try:
            for d in msg.data:
                m = self._markets.get(d.instId or asked)
                if m is None:
                    if strict:
                        raise _unknown(d.instId or asked, channel)
                    continue
                out.append(convert(m, d, ts_recv))
        except (ValueError, IndexError) as e:
            raise DecodeError(f"okx {conn}: {e}") from e
        return out


def _funding_rate(m: RawScaler, d: OkxWsDataMsg, ts_recv: int) -> FundingRate:
    # The times are ms strings. Older pushes had no ``ts`` (ts_event is then the receive time)
    # and may lack ``nextFundingTime`` (0).
    return FundingRate(
        venue=VENUE,
        symbol=m.symbol,
        rate_ppb=rate_to_ppb(d.fundingRate),
        funding_time_ns=int(d.fundingTime) * _NS_PER_MS,
        next_funding_time_ns=int(d.nextFundingTime) * _NS_PER_MS if d.nextFundingTime else 0,
        ts_event=d.ts * _NS_PER_MS if d.ts else ts_recv,
        ts_recv=ts_recv,
    )


def _mark_price(m: RawScaler, d: OkxWsDataMsg, ts_recv: int) -> MarkPrice:
    return MarkPrice(
        venue=VENUE,
        symbol=m.symbol,
        px=m.px(d.markPx),
        ts_event=d.ts * _NS_PER_MS,
        ts_recv=ts_recv,
    )


def rate_to_ppb(s: str) -> int:
    """A rate string in parts per billion: ``"0.0001"`` -> 100_000, ``"-0.00002"`` -> -20_000.

    Exact for up to 9 decimals; a longer string (OKX may send a rate with more digits) is
    rounded half to even to the nearest ppb, in exact decimal arithmetic. Raises
    ``PrecisionError`` for a string that is not a finite decimal number (``""`` included).
    """
    try:
        return to_raw(s, 9)
    except PrecisionError:
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise PrecisionError(f"rate {s!r} is not a decimal number") from None
        if not d.is_finite():
            raise PrecisionError(f"rate {s!r} is not a decimal number") from None
        return int(d.scaleb(9).to_integral_value(ROUND_HALF_EVEN))


def _levels(m: RawScaler, rows: list[OkxRowMsg]) -> Levels:
    px, qty = m.getters()
    return [(px(r.px), qty(r.sz)) for r in rows]


def _unknown(inst_id: str, channel: str) -> UnknownInstrument:
    return UnknownInstrument(
        f"okx channel {channel!r}: instId {inst_id!r} is not among the instruments"
    )

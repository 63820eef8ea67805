"""Binance market-data codec: raw WebSocket and REST frames -> normalized events.

One ``BinanceCodec`` per venue (``binance``, ``binance-usdm`` or ``binance-coinm``). It handles

- WebSocket frames (kind ``<``), combined-stream envelopes ``{"stream":..,"data":{..}}`` and
  bare payloads alike: ``depthUpdate`` -> ``BookDelta``, ``bookTicker`` -> ``Quote``,
  ``trade`` / ``aggTrade`` -> ``Trade``; other events, subscription answers and partial
  book depth streams (``@depth5``/``10``/``20``: top-N books, not kept by arb; spot ones are
  told by their shape, futures ones by the stream name, so only in combined streams) -> ``[]``;
- REST responses (kind ``r``) of the depth endpoints -> ``BookSnapshot``; the symbol comes
  from the request path (``/api/v3/depth?symbol=BTCUSDT&limit=1000``) or, on COIN-M, from
  the body; other paths -> ``[]``.

Hot path: every frame is decoded in one pass by a msgspec decoder built once, with a tagged
union on ``"e"``. Spot ``bookTicker`` events carry no ``"e"``; a byte search for the key picks
their decoder instead. Anything that does not decode takes a slow path that tells known
non-market frames (acks, other events) from malformed ones.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from arb.core.errors import DecodeError
from arb.core.errors import UnknownInstrument
from arb.core.events import MarketEvent
from arb.core.instruments import Instrument
from arb.core.scaler import RawScaler
from arb.core.sequencing import BinanceFuturesRule
from arb.core.sequencing import BinanceSpotRule
from arb.core.sync import BookSpec
from arb.recording import Kind
from venues.binance.schemas import BinanceDepthMsg
from venues.binance.schemas import BinanceDepthSnapshotMsg
from venues.binance.schemas import BinanceEventMsg
from venues.binance.schemas import BinanceSpotBookTickerMsg
from venues.binance.schemas import BinanceSpotBookTickerStreamMsg
from venues.binance.schemas import BinanceStreamMsg
from venues.binance.symbols import MARKETS
from venues.binance.symbols import parse_rest_depth_path

__all__ = ["BinanceCodec"]

_HANDLED_EVENTS = frozenset({"depthUpdate", "bookTicker", "trade", "aggTrade"})
_STREAM_PREFIX = b'{"stream"'
_E_KEY = b'"e"'

_WsMsg = BinanceEventMsg | BinanceSpotBookTickerMsg


def _is_partial_depth(stream: str) -> bool:
    # "btcusdt@depth20@100ms" (top-N) vs "btcusdt@depth@100ms" / "btcusdt@depth" (diffs)
    i = stream.find("@depth")
    return i >= 0 and stream[i + 6 : i + 7].isdigit()


class BinanceCodec:
    """Decode one Binance venue's frames (implements ``arb.ports.FrameCodec``).

    Parameters
    ----------
    venue
        ``"binance"`` (spot), ``"binance-usdm"`` or ``"binance-coinm"``.
    instruments
        The venue's instruments; frames naming other symbols raise ``UnknownInstrument``.
        Instruments of other venues are ignored.

    Raises
    ------
    ValueError
        ``venue`` is not a Binance venue.
    """

    def __init__(
        self, venue: str, instruments: Iterable[Instrument], *, text_deltas: bool = False
    ) -> None:
        market = MARKETS.get(venue)
        if market is None:
            raise ValueError(f"venue {venue!r} is not one of {sorted(MARKETS)}")
        self.venue = venue
        # venue symbol -> the instrument's memoizing string -> raw-int converter
        self._scalers: dict[str, RawScaler] = {
            i.venue_symbol: RawScaler(i) for i in instruments if i.venue == venue
        }
        self._spec = BookSpec(BinanceSpotRule() if market == "spot" else BinanceFuturesRule())
        self._stream_dec = msgspec.json.Decoder(BinanceStreamMsg)
        self._event_dec = msgspec.json.Decoder(BinanceEventMsg)
        self._spot_ticker_stream_dec = msgspec.json.Decoder(BinanceSpotBookTickerStreamMsg)
        self._spot_ticker_dec = msgspec.json.Decoder(BinanceSpotBookTickerMsg)
        self._snapshot_dec = msgspec.json.Decoder(BinanceDepthSnapshotMsg)
        self.text_deltas = text_deltas
        """Depth updates become ``TextBookDelta`` (converted as the book applies them): the
        engine's choice, for its hot path."""

    # -- FrameCodec ------------------------------------------------------------------------

    def decode(self, kind: str, conn: str, payload: bytes, ts_recv: int) -> list[MarketEvent]:
        """Decode one frame into the market events it carries (often one, possibly none).

        Parameters
        ----------
        kind
            ``arb.recording.Kind``: ``"<"`` WebSocket frame, ``"r"`` REST response body;
            other kinds carry no market data and give ``[]``.
        conn
            Connection id (WebSocket) or REST request path with query (REST).
        payload
            The frame's bytes as received.
        ts_recv
            Local receive time, ns.

        Raises
        ------
        DecodeError
            Malformed JSON, or a market event of the wrong shape.
        UnknownInstrument
            The frame names a symbol this codec was not built with.
        PrecisionError
            A price or size does not fit the instrument's precision.
        """
        if kind == Kind.RECV:
            return self._decode_ws(conn, payload, ts_recv)
        if kind == Kind.REST:
            return self._decode_rest(conn, payload, ts_recv)
        return []

    def book_spec(self, symbol: str, channel: str) -> BookSpec:
        """Return the book's sequence rule: Binance spot or futures; Binance sends no checksum."""
        return self._spec

    def instruments(self) -> list[Instrument]:
        """Return the instruments this codec was built with."""
        return [sc.inst for sc in self._scalers.values()]

    # -- WebSocket -------------------------------------------------------------------------

    def _decode_ws(self, conn: str, payload: bytes, ts_recv: int) -> list[MarketEvent]:
        combined = payload.startswith(_STREAM_PREFIX)
        msg: _WsMsg
        try:
            if _E_KEY in payload:
                if combined:
                    env = self._stream_dec.decode(payload)
                    msg = env.data
                    if type(msg) is BinanceDepthMsg and _is_partial_depth(env.stream):
                        return []  # futures @depth5/10/20: top-N books, not diffs
                else:
                    msg = self._event_dec.decode(payload)
            else:
                msg = (
                    self._spot_ticker_stream_dec.decode(payload).data
                    if combined
                    else self._spot_ticker_dec.decode(payload)
                )
        except msgspec.DecodeError as e:
            return self._decode_ws_other(conn, payload, ts_recv, e)
        sc = self._scalers.get(msg.s)
        if sc is None:
            raise UnknownInstrument(f"{self.venue} {conn}: unknown symbol {msg.s!r}")
        if self.text_deltas and type(msg) is BinanceDepthMsg:
            return [msg.to_text_event(sc, ts_recv)]
        return [msg.to_event(sc, ts_recv)]

    def _decode_ws_other(
        self, conn: str, payload: bytes, ts_recv: int, err: msgspec.DecodeError
    ) -> list[MarketEvent]:
        # Slow path: acks, events arb does not read, envelopes with "stream" not first.
        try:
            obj = msgspec.json.decode(payload)
        except msgspec.DecodeError as e:
            raise DecodeError(f"{self.venue} {conn}: malformed JSON: {e}") from e
        if not isinstance(obj, dict):
            raise DecodeError(f"{self.venue} {conn}: received {type(obj).__name__}, not an object")
        if "result" in obj and "id" in obj:
            return []  # {"result":null,"id":1}: answer to a (un)subscribe
        stream = obj.get("stream")
        where = f"{self.venue} {conn} stream {stream!r}" if stream else f"{self.venue} {conn}"
        if "code" in obj and "msg" in obj:
            raise DecodeError(f"{where}: venue sent error {obj['code']}: {obj['msg']}")
        data = obj.get("data") if stream is not None else obj
        if isinstance(data, dict):
            event = data.get("e")
            if isinstance(event, str) and event not in _HANDLED_EVENTS:
                return []  # kline, markPriceUpdate, 24hrTicker, ...: not read by arb
            if event is None and "lastUpdateId" in data:
                return []  # spot partial depth (@depth5/10/20): arb keeps diff. depth books
            if stream is not None and not payload.startswith(_STREAM_PREFIX):
                # An envelope re-serialized with other key order: decode its payload alone.
                return self._decode_ws(
                    f"{conn} stream {stream!r}", msgspec.json.encode(data), ts_recv
                )
        raise DecodeError(f"{where}: {err}") from err

    # -- REST ------------------------------------------------------------------------------

    def _decode_rest(self, conn: str, payload: bytes, ts_recv: int) -> list[MarketEvent]:
        parsed = parse_rest_depth_path(conn)
        if parsed is None:
            return []
        venue, venue_symbol = parsed
        if venue != self.venue:
            raise DecodeError(f"{self.venue} {conn}: a {venue} depth path on a {self.venue} feed")
        try:
            msg = self._snapshot_dec.decode(payload)
        except msgspec.DecodeError as e:
            raise DecodeError(f"{self.venue} {conn}: {e}") from e
        if msg.symbol and venue_symbol and msg.symbol != venue_symbol:
            raise DecodeError(f"{self.venue} {conn}: body names symbol {msg.symbol!r}")
        venue_symbol = venue_symbol or msg.symbol
        if not venue_symbol:
            raise DecodeError(f"{self.venue} {conn}: depth snapshot names no symbol")
        sc = self._scalers.get(venue_symbol)
        if sc is None:
            raise UnknownInstrument(f"{self.venue} {conn}: unknown symbol {venue_symbol!r}")
        return [msg.to_snapshot(sc, ts_recv)]

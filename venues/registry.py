"""Which codec decodes a venue's frames. One place, used by verify, replay and live."""

from __future__ import annotations

from collections.abc import Iterable

from arb.core.events import MarketEvent
from arb.core.instruments import Instrument
from arb.core.sync import BookSpec
from arb.ports import FrameCodec
from arb.recording import Kind
from venues.binance.codec import BinanceCodec
from venues.binance.symbols import MARKETS as BINANCE_VENUES
from venues.normalized.codec import NormalizedCodec
from venues.okx.codec import OkxCodec

__all__ = ["NATIVE_VENUES", "VenueCodec", "build_codec"]

NATIVE_VENUES: tuple[str, ...] = ("okx", *BINANCE_VENUES)


def _native(venue: str, instruments: list[Instrument], text_deltas: bool) -> FrameCodec | None:
    if venue == "okx":
        return OkxCodec(instruments, text_deltas=text_deltas)
    if venue in BINANCE_VENUES:
        return BinanceCodec(venue, instruments, text_deltas=text_deltas)
    return None


class VenueCodec:
    """Dispatches a venue's frames: arb's normalized frames (kind ``n``) to the normalized
    codec, wire frames to the venue's native codec. Control frames (sent, connection open and
    close) carry no market data.
    """

    def __init__(
        self, venue: str, instruments: Iterable[Instrument], *, text_deltas: bool = False
    ) -> None:
        insts = [i for i in instruments if i.venue == venue]
        self.venue = venue
        self._instruments = insts
        self.native = _native(venue, insts, text_deltas)
        self.normalized = NormalizedCodec(venue, insts)

    def decode(self, kind: str, conn: str, payload: bytes, ts_recv: int) -> list[MarketEvent]:
        if kind == Kind.NORMALIZED:
            return self.normalized.decode(kind, conn, payload, ts_recv)
        if kind in (Kind.RECV, Kind.REST) and self.native is not None:
            return self.native.decode(kind, conn, payload, ts_recv)
        return []

    def book_spec(self, symbol: str, channel: str) -> BookSpec:
        if self.native is None or channel == NormalizedCodec.CHANNEL:
            return self.normalized.book_spec(symbol, channel)
        return self.native.book_spec(symbol, channel)

    def instruments(self) -> list[Instrument]:
        return list(self._instruments)

    def is_wire_venue(self) -> bool:
        return self.native is not None


def build_codec(
    venue: str, instruments: Iterable[Instrument], *, text_deltas: bool = False
) -> VenueCodec:
    """Codec for ``venue`` with the instruments of a recording manifest or a venue's REST.

    ``text_deltas``: book updates that can be applied as the venue's text rows come out as
    ``TextBookDelta`` (the engine's books convert them as they apply them; see
    ``arb.core.events``); every other reader gets ``BookDelta``.
    """
    return VenueCodec(venue, instruments, text_deltas=text_deltas)

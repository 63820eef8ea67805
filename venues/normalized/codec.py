"""Decode arb's normalized L2 frames (kind ``n``) into normalized events.

Used for recordings imported from CSV (``arb import --format tardis|topn-csv``); see
``venues.normalized.schemas`` for the messages. The book of each symbol is fed by channel
``"l2"`` and checked with ``ContiguousRule`` (importers number each symbol's book messages
1, 2, 3, ...), so a lost line shows up as a sequence gap.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from arb.core.errors import DecodeError
from arb.core.errors import UnknownInstrument
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import MarketEvent
from arb.core.events import Quote
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.sequencing import ContiguousRule
from arb.core.sync import BookSpec
from arb.recording import Kind
from venues.normalized.schemas import Level
from venues.normalized.schemas import NormalizedDeltaMsg
from venues.normalized.schemas import NormalizedMsg
from venues.normalized.schemas import NormalizedQuoteMsg
from venues.normalized.schemas import NormalizedSnapMsg

__all__ = ["NormalizedCodec"]


class NormalizedCodec:
    """``arb.ports.FrameCodec`` for frames of kind ``n`` of one venue.

    Parameters
    ----------
    venue
        The venue whose frames this codec decodes.
    instruments
        Instruments (of any venues; those of ``venue`` are kept). A message's ``s`` is looked
        up by venue symbol, then by canonical symbol.

    Frames of any other kind decode to no events.
    """

    CHANNEL = "l2"
    QUOTE_CHANNEL = "quote"

    def __init__(self, venue: str, instruments: Iterable[Instrument]) -> None:
        self.venue = venue
        self._instruments = [i for i in instruments if i.venue == venue]
        self._by_symbol: dict[str, Instrument] = {}
        for inst in self._instruments:
            self._by_symbol.setdefault(inst.venue_symbol, inst)
        for inst in self._instruments:
            self._by_symbol.setdefault(inst.symbol, inst)
        self._decoder = msgspec.json.Decoder(NormalizedMsg)
        self._spec = BookSpec(ContiguousRule())

    def decode(self, kind: str, conn: str, payload: bytes, ts_recv: int) -> list[MarketEvent]:
        """Decode one frame; see ``arb.ports.FrameCodec``.

        Example payload::

            {"t":"delta","s":"BTC-PERPETUAL","seq":7,"te":1585699200245000000,
             "b":[["6421","120"]],"a":[["6421.5","0"]]}

        Raises
        ------
        DecodeError
            The payload is not a normalized message.
        UnknownInstrument
            The message names a symbol that is not among the instruments.
        PrecisionError
            A price or size has more decimals than the instrument's precision.
        """
        if kind != Kind.NORMALIZED:
            return []
        try:
            msg = self._decoder.decode(payload)
        except msgspec.DecodeError as e:
            raise DecodeError(f"{self.venue}: bad normalized frame ({e}): {payload[:120]!r}") from e
        inst = self._by_symbol.get(msg.s)
        if inst is None:
            raise UnknownInstrument(
                f"{self.venue}: normalized frame names unknown symbol {msg.s!r}"
            )
        if type(msg) is NormalizedDeltaMsg:
            return [
                BookDelta(
                    venue=self.venue,
                    symbol=inst.symbol,
                    channel=self.CHANNEL,
                    ts_event=msg.te,
                    ts_recv=ts_recv,
                    first_seq=msg.seq,
                    last_seq=msg.seq,
                    prev_seq=NO_SEQ,
                    bids=_levels(inst, msg.b),
                    asks=_levels(inst, msg.a),
                )
            ]
        if type(msg) is NormalizedSnapMsg:
            return [
                BookSnapshot(
                    venue=self.venue,
                    symbol=inst.symbol,
                    channel=self.CHANNEL,
                    ts_event=msg.te,
                    ts_recv=ts_recv,
                    seq=msg.seq,
                    bids=_levels(inst, msg.b),
                    asks=_levels(inst, msg.a),
                    partial=msg.partial,
                )
            ]
        if type(msg) is NormalizedQuoteMsg:
            return [
                Quote(
                    venue=self.venue,
                    symbol=inst.symbol,
                    channel=self.QUOTE_CHANNEL,
                    ts_event=msg.te,
                    ts_recv=ts_recv,
                    bid_px=inst.px_to_raw(msg.bp),
                    bid_qty=inst.qty_to_raw(msg.bq),
                    ask_px=inst.px_to_raw(msg.ap),
                    ask_qty=inst.qty_to_raw(msg.aq),
                )
            ]
        return [
            Trade(
                venue=self.venue,
                symbol=inst.symbol,
                ts_event=msg.te,
                ts_recv=ts_recv,
                trade_id=msg.id,
                px=inst.px_to_raw(msg.px),
                qty=inst.qty_to_raw(msg.qty),
                side=msg.side,
            )
        ]

    def book_spec(self, symbol: str, channel: str) -> BookSpec:
        """Return the contiguous-sequence spec (no checksum) shared by every normalized book."""
        return self._spec

    def instruments(self) -> list[Instrument]:
        """Return the instruments of this codec's venue."""
        return list(self._instruments)


def _levels(inst: Instrument, rows: list[Level]) -> list[tuple[int, int]]:
    px = inst.px_to_raw
    qty = inst.qty_to_raw
    return [(px(p), qty(q)) for p, q in rows]

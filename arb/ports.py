"""Ports: the interfaces between the pure core and the venues / the outside world.

A venue codec turns raw recorded or live frames into normalized events. The same codec runs
in live trading, in recording replay and in ``arb verify`` (one code path).
"""

from __future__ import annotations

from typing import Protocol

from arb.core.events import MarketEvent
from arb.core.instruments import Instrument
from arb.core.sync import BookSpec

__all__ = ["FrameCodec"]


class FrameCodec(Protocol):
    """Decodes one venue's frames. Built once per venue; holds its msgspec decoders.

    ``decode`` receives the frame kind (see ``arb.recording.Kind``), the connection or REST
    request path it came from, the raw payload and the local receive time (ns). It returns the
    normalized events the frame carries (possibly none: acks, pongs, subscriptions), and raises
    ``arb.core.errors.DataError`` (``DecodeError``, ``PrecisionError``, ``UnknownInstrument``)
    for a frame it cannot trust.
    """

    venue: str

    def decode(self, kind: str, conn: str, payload: bytes, ts_recv: int) -> list[MarketEvent]: ...

    def book_spec(self, symbol: str, channel: str) -> BookSpec:
        """Sequence rule and checksum for the book of ``symbol`` fed by ``channel``."""
        ...

    def instruments(self) -> list[Instrument]:
        """The instruments this codec was built with."""
        ...

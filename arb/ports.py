"""Ports: the interfaces between the pure core and the venues / the outside world.

A venue codec turns raw recorded or live frames into normalized events. The same codec runs
in live trading, in recording replay and in ``arb verify`` (one code path).
"""

from __future__ import annotations

from typing import Protocol

from arb.core.events import MarketEvent
from arb.core.instruments import Instrument
from arb.core.messages import Command
from arb.core.messages import OrderEvent
from arb.core.sync import BookSpec

__all__ = ["Clock", "ExecutionVenue", "FrameCodec"]


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


class Clock(Protocol):
    """Time source: ``LiveClock`` reads the system clock, ``ReplayClock`` is advanced by the
    replayer. The core never reads a clock; the shell passes ``now_ns()`` in."""

    def now_ns(self) -> int: ...


class ExecutionVenue(Protocol):
    """Orders out, order events back: implemented by the simulated venue and live adapters.

    The engine calls ``submit`` at time ``now``; the venue delivers ``OrderEvent``s whose
    ``ts_recv`` is when the engine sees them (after the venue's latency). A simulated venue is
    driven by time: ``due()`` is the next time it has something to do, ``advance(now)`` does
    everything due up to ``now`` and returns the events the engine receives by then.
    """

    venue: str

    def submit(self, cmd: Command, now: int) -> None: ...

    def on_market(self, event: MarketEvent) -> None:
        """The venue's own market data (the simulated venue matches against it)."""
        ...

    def due(self) -> int | None: ...

    def advance(self, now: int) -> list[OrderEvent]: ...

    def balances(self) -> dict[str, int]:
        """Available balance per asset at AMOUNT_PRECISION."""
        ...

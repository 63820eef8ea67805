"""Normalized market-data events: what every venue codec produces from raw frames.

Prices and sizes are raw integers at the instrument's precisions (see ``arb.core.numbers``).
Times are integer nanoseconds: ``ts_event`` from the venue, ``ts_recv`` local receive time.
Events are frozen facts; nothing downstream mutates them.

Sequence fields follow one convention for every venue:

- ``first_seq`` / ``last_seq``: the first and last update id the message covers
  (Binance ``U``/``u``; OKX has one id per message, so both are ``seqId``);
- ``prev_seq``: the id the venue says came just before (Binance futures ``pu``,
  OKX ``prevSeqId``), ``NO_SEQ`` when the venue sends none (Binance spot);
- ``NO_SEQ`` (-1) everywhere the venue sent no sequence at all.

``raw_bids`` / ``raw_asks`` carry the rows exactly as received, only for venues whose
checksum is computed over the original strings (OKX); ``checksum == 0`` means absent.

``TextBookDelta`` is a ``BookDelta`` whose levels are still the venue's text rows, with the
instrument's ``RawScaler``: the book converts each row as it applies it (one pass over the rows
instead of a conversion pass and an apply pass). Only the engine's codecs emit it (OKX
incremental channels without a checksum, Binance depth updates: the hot path); ``to_delta()``
gives the ``BookDelta``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Protocol

import msgspec

if TYPE_CHECKING:
    from arb.core.scaler import RawScaler

__all__ = [
    "NO_SEQ",
    "BookDelta",
    "BookSnapshot",
    "Delta",
    "FundingRate",
    "MarkPrice",
    "MarketEvent",
    "Quote",
    "TextBookDelta",
    "TextRow",
    "Trade",
]

NO_SEQ = -1

Level = tuple[int, int]


class BookSnapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="snapshot"):
    """A full (or top-N) replacement of one side-pair of a book. Levels best first."""

    venue: str
    symbol: str
    channel: str
    ts_event: int
    ts_recv: int
    seq: int = NO_SEQ
    bids: list[Level]
    asks: list[Level]
    checksum: int = 0
    raw_bids: list[list[str]] | None = None
    raw_asks: list[list[str]] | None = None
    partial: bool = False
    """True when the venue sends only the top N levels each time (books5, bbo-tbt, CSV top-N)."""


class BookDelta(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="delta"):
    """Incremental changes: a level with size 0 is deleted, any other size replaces."""

    venue: str
    symbol: str
    channel: str
    ts_event: int
    ts_recv: int
    first_seq: int = NO_SEQ
    last_seq: int = NO_SEQ
    prev_seq: int = NO_SEQ
    bids: list[Level]
    asks: list[Level]
    checksum: int = 0
    raw_bids: list[list[str]] | None = None
    raw_asks: list[list[str]] | None = None


class Quote(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="quote"):
    """Best bid and offer (Binance ``bookTicker``, OKX ``bbo-tbt``/``tickers``). 0 = side empty."""

    venue: str
    symbol: str
    channel: str
    ts_event: int
    ts_recv: int
    seq: int = NO_SEQ
    bid_px: int
    bid_qty: int
    ask_px: int
    ask_qty: int
    last_px: int = 0


class Trade(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="trade"):
    """A public trade. ``side`` is the taker's side: ``"buy"`` or ``"sell"``."""

    venue: str
    symbol: str
    ts_event: int
    ts_recv: int
    trade_id: str
    px: int
    qty: int
    side: str


class FundingRate(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="funding"):
    """A perpetual swap's current funding rate (OKX ``funding-rate``).

    ``rate_ppb`` is the rate in parts per billion (``"0.0001"`` -> 100_000), exact for up to
    9 decimals; positive = longs pay shorts. ``funding_time_ns`` is the settlement time the rate
    applies to and ``next_funding_time_ns`` the one after it (their difference is the funding
    interval: 8 h usually, possibly 6/4/2/1 h).
    """

    venue: str
    symbol: str
    rate_ppb: int
    funding_time_ns: int
    next_funding_time_ns: int
    ts_event: int
    ts_recv: int


class MarkPrice(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="mark"):
    """A derivative's mark price (OKX ``mark-price``), raw at the instrument's price precision."""

    venue: str
    symbol: str
    px: int
    ts_event: int
    ts_recv: int


class TextRow(Protocol):
    """One book row as the venue's text: price and size strings (e.g. ``OkxRowMsg``)."""

    @property
    def px(self) -> str: ...

    @property
    def sz(self) -> str: ...


class TextBookDelta(msgspec.Struct, frozen=True, gc=False):
    """A ``BookDelta`` whose rows are converted by the book as it applies them.

    ``scaler`` converts the rows' strings exactly as the codec would (``RawScaler``: the
    instrument's precisions, ``PrecisionError`` for a string that does not fit); a row of size
    ``"0"`` deletes. Built positionally by the codec's hot path. No checksum (the codec keeps
    ``BookDelta`` with raw rows for books whose venue sends one).
    """

    venue: str
    symbol: str
    channel: str
    ts_event: int
    ts_recv: int
    first_seq: int
    last_seq: int
    prev_seq: int
    bids: Sequence[TextRow]
    asks: Sequence[TextRow]
    scaler: RawScaler

    checksum = 0
    raw_bids = None
    raw_asks = None

    def to_delta(self) -> BookDelta:
        """The same update as a ``BookDelta`` of raw integer levels (raises ``PrecisionError``)."""
        levels = self.scaler.rows
        return BookDelta(
            venue=self.venue,
            symbol=self.symbol,
            channel=self.channel,
            ts_event=self.ts_event,
            ts_recv=self.ts_recv,
            first_seq=self.first_seq,
            last_seq=self.last_seq,
            prev_seq=self.prev_seq,
            bids=levels(self.bids),
            asks=levels(self.asks),
        )


Delta = BookDelta | TextBookDelta
"""An incremental book update, as integer levels or as text rows."""

MarketEvent = BookSnapshot | BookDelta | TextBookDelta | Quote | Trade | FundingRate | MarkPrice

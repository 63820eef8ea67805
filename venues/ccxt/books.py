"""Order books of any ccxt exchange as ``BookSnapshot`` events, with arb's own integrity check.

ccxt.pro ``watch_order_book(symbol)`` keeps the whole book itself and returns it after each
update; this feed emits **one top-N snapshot per update** (``partial=True``, ``depth`` levels
per side, converted exactly to raw integers), not deltas: ccxt has already merged the deltas
and does not expose every venue's sequence numbers, so a diff would only re-derive what the
snapshot says. ``seq`` is ccxt's ``nonce`` when it is an int, else ``NO_SEQ``.

Integrity (ccxt checks sequences only where it implements them): a book that is crossed
(best bid >= best ask), unsorted, holds a level of size 0, or does not convert exactly is
dropped, counted and **resynced** by re-watching (``un_watch_order_book`` where the exchange
has it, so the next ``watch_order_book`` subscribes again and starts from a fresh
snapshot). A book with no update for ``stale_after_s`` is stale: resynced the same way.
Without WebSocket (``exchange.has["watchOrderBook"]`` false) the feed polls
``fetch_order_book(symbol, depth)`` every ``poll_interval_s`` seconds, with the same checks.

Sample (ccxt order book, trimmed)::

    {"symbol": "BTC/USDT", "bids": [[60000.2, 0.95459986], ...], "asks": [[60000.4, 1.2], ...],
     "timestamp": 1795476241508, "nonce": 123456}
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import ccxt

from arb.core.errors import CrossedBook
from arb.core.errors import DataError
from arb.core.errors import DecodeError
from arb.core.events import NO_SEQ
from arb.core.events import BookSnapshot
from arb.core.instruments import Instrument
from venues.ccxt.convert import exact
from venues.ccxt.errors import classify

__all__ = ["POLL_CHANNEL", "WATCH_CHANNEL", "CcxtBookFeed", "snapshot_from_book"]

NS_PER_MS = 1_000_000
WATCH_CHANNEL = "ccxt.watch_order_book"
POLL_CHANNEL = "ccxt.fetch_order_book"
_CCXT_ERROR: type[Exception] = ccxt.BaseError


def _levels(rows: Sequence[Any], inst: Instrument, depth: int, what: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for row in rows[:depth]:
        px = inst.px_to_raw(exact(row[0], f"{what} price"))
        qty = inst.qty_to_raw(exact(row[1], f"{what} size"))
        if qty <= 0 or px <= 0:
            raise DecodeError(f"{inst.venue} {inst.symbol} {what}: level {row[:2]!r} not positive")
        out.append((px, qty))
    return out


def snapshot_from_book(
    book: Mapping[str, Any],
    inst: Instrument,
    *,
    depth: int,
    channel: str,
    ts_recv: int,
) -> BookSnapshot:
    """Convert a ccxt order book to a checked top-``depth`` ``BookSnapshot``.

    Raises ``CrossedBook`` when best bid >= best ask, ``DecodeError`` for unsorted sides, a
    size-0 level or a number that does not fit the instrument (``PrecisionError``).
    """
    bids = _levels(book.get("bids") or [], inst, depth, "bid")
    asks = _levels(book.get("asks") or [], inst, depth, "ask")
    if any(bids[i][0] <= bids[i + 1][0] for i in range(len(bids) - 1)):
        raise DecodeError(f"{inst.venue} {inst.symbol}: bids not strictly descending")
    if any(asks[i][0] >= asks[i + 1][0] for i in range(len(asks) - 1)):
        raise DecodeError(f"{inst.venue} {inst.symbol}: asks not strictly ascending")
    if bids and asks and bids[0][0] >= asks[0][0]:
        raise CrossedBook(
            f"{inst.venue} {inst.symbol}: best bid {bids[0][0]} >= best ask {asks[0][0]} (raw)"
        )
    ts = book.get("timestamp")
    nonce = book.get("nonce")
    return BookSnapshot(
        venue=inst.venue,
        symbol=inst.symbol,
        channel=channel,
        ts_event=ts * NS_PER_MS if isinstance(ts, int) and ts > 0 else ts_recv,
        ts_recv=ts_recv,
        seq=nonce if isinstance(nonce, int) and not isinstance(nonce, bool) else NO_SEQ,
        bids=bids,
        asks=asks,
        partial=True,
    )


class CcxtBookFeed:
    """Books of one ccxt exchange for the given instruments, as ``BookSnapshot`` streams.

    ``exchange`` is a ccxt.pro instance (or an async_support one for REST polling), set up
    and closed by the caller. ``errors`` counts drops and resyncs by reason.
    """

    def __init__(
        self,
        exchange: Any,
        instruments: Iterable[Instrument],
        *,
        clock_ns: Callable[[], int],
        depth: int = 20,
        stale_after_s: float = 5.0,
        poll_interval_s: float = 0.5,
        use_watch: bool | None = None,
    ) -> None:
        self.exchange = exchange
        self._by_symbol = {i.symbol: i for i in instruments}
        self._clock = clock_ns
        self.depth = depth
        self.stale_after_s = stale_after_s
        self.poll_interval_s = poll_interval_s
        has: Mapping[str, Any] = exchange.has
        self.watching = bool(has.get("watchOrderBook")) if use_watch is None else use_watch
        self.errors: dict[str, int] = {}
        self.resyncs = 0

    async def books(self, symbol: str) -> AsyncIterator[BookSnapshot]:
        """Yield a checked snapshot of ``symbol`` (canonical) per book update, forever."""
        inst = self._by_symbol[symbol]
        while True:
            book = await self._next(inst)
            if book is None:
                continue
            try:
                snap = snapshot_from_book(
                    book,
                    inst,
                    depth=self.depth,
                    channel=WATCH_CHANNEL if self.watching else POLL_CHANNEL,
                    ts_recv=self._clock(),
                )
            except DataError as e:
                self._count(type(e).__name__)
                await self._resync(inst)
                continue
            yield snap

    async def _next(self, inst: Instrument) -> Mapping[str, Any] | None:
        # The next book, or None after a stale wait or a failed request (resynced/backed off).
        sym = inst.venue_symbol
        try:
            if self.watching:
                book: Mapping[str, Any] = await asyncio.wait_for(
                    self.exchange.watch_order_book(sym), self.stale_after_s
                )
            else:
                await asyncio.sleep(self.poll_interval_s)
                book = await self.exchange.fetch_order_book(sym, self.depth)
        except TimeoutError:
            self._count("stale")
            await self._resync(inst)
            return None
        except _CCXT_ERROR as e:
            self._count(classify(e, inst.venue).code)
            await asyncio.sleep(self.poll_interval_s)
            await self._resync(inst)
            return None
        return book

    async def _resync(self, inst: Instrument) -> None:
        # Drop ccxt's copy so that the next watch subscribes again from a fresh snapshot.
        self.resyncs += 1
        if self.watching and self.exchange.has.get("unWatchOrderBook"):
            with contextlib.suppress(_CCXT_ERROR, TimeoutError):
                await asyncio.wait_for(
                    self.exchange.un_watch_order_book(inst.venue_symbol), self.stale_after_s
                )

    def _count(self, key: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1

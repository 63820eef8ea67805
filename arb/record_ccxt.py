"""``arb record`` for ``kind = "ccxt"`` venues: ccxt's books (and trades) as normalized frames.

ccxt parses and merges the venue's wire messages itself, so there are no raw frames to keep:
each venue is recorded in arb's normalized encoding (frames of kind ``n``, see
``venues.normalized``), the same frames the live engine feeds to ``Engine.on_frame``:

1. ``load_markets()`` (through ``venues.ccxt.factory.make_exchange``: the venue's
   ``rest_url`` / ``ws_url`` overrides, no credentials), converted exactly into the
   instruments of the config's pairs on that venue, which go in the manifest;
2. per symbol, every checked top-``book_depth`` snapshot of ``venues.ccxt.books.CcxtBookFeed``
   (``watch_order_book``, or ``fetch_order_book`` every ``poll_interval_ms`` without
   WebSocket) as one ``snap`` message, ``seq`` contiguous from 1 per symbol, ``conn`` the ccxt
   method (``ccxt.watch_order_book`` / ``ccxt.fetch_order_book``);
3. per symbol, where the exchange has ``watchTrades``, each public trade as a ``trade``
   message (``conn`` ``ccxt.watch_trades``).

Sample frames (tab-separated; ``n`` is the frame kind)::

    1795476241510000000  okx-ccxt  ccxt.watch_order_book  n  {"t":"snap","s":"BTC/USDT",
        "seq":1,"te":1795476241508000000,"b":[["60000.2","0.95"]],"a":[["60000.4","1.2"]],
        "partial":true}
    1795476241620000000  okx-ccxt  ccxt.watch_trades  n  {"t":"trade","s":"BTC/USDT",
        "te":1795476241601000000,"id":"242720720","side":"buy","px":"60000.4","qty":"0.01"}
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

import ccxt

from arb.config import Config
from arb.config import VenueConfig
from arb.core.errors import ConfigError
from arb.core.errors import DataError
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.recording import Kind
from arb.recording import RecordingWriter
from venues.ccxt.books import NS_PER_MS
from venues.ccxt.books import CcxtBookFeed
from venues.ccxt.convert import trade_view
from venues.ccxt.errors import classify
from venues.ccxt.instruments import from_venue_symbol
from venues.ccxt.instruments import instruments_from_markets
from venues.ccxt.instruments import to_venue_symbol
from venues.normalized.encode import snapshot_frame
from venues.normalized.encode import trade_frame

if TYPE_CHECKING:
    from arb.record import VenueRecordStats

__all__ = ["TRADES_CONN", "CcxtRecorder", "ccxt_symbols"]

TRADES_CONN = "ccxt.watch_trades"
CLOSE_TIMEOUT_S = 5.0

Note = Callable[[str], None]
T = TypeVar("T")
_CCXT_ERROR: type[Exception] = ccxt.BaseError
_NOT_SUPPORTED: type[Exception] = ccxt.NotSupported


def ccxt_symbols(cfg: Config, venue_id: str) -> list[str]:
    """Return the symbols of ``cfg``'s pairs on venue ``venue_id`` (in order, once each).

    Raises ``ConfigError`` for a symbol that has no ccxt form (options).
    """
    symbols = list(dict.fromkeys(p.symbol for p in cfg.pairs if venue_id in p.venues))
    for s in symbols:
        try:
            to_venue_symbol(s)
        except ValueError as e:
            raise ConfigError(f"venue {venue_id}: {e}") from e
    return symbols


class CcxtRecorder:
    """One ccxt venue: instruments from ``load_markets``, then books and trades as frames.

    Parameters
    ----------
    venue, symbols
        The venue and the canonical symbols to record (``ccxt_symbols``).
    writer
        The recording (shared with the other venues' recorders).
    clock_ns
        Receive time of each frame.
    exchange
        The venue's ccxt exchange (``make_exchange``); ``run`` closes it.
    stats
        The venue's counters, filled in by ``run``: ``messages`` = frames written,
        ``errors`` = books dropped or stale and trades or requests that failed, ``resyncs``,
        and ``rest_snapshots`` = books fetched over REST (polling venues).
    """

    def __init__(
        self,
        venue: VenueConfig,
        symbols: list[str],
        writer: RecordingWriter,
        clock_ns: Callable[[], int],
        exchange: Any,
        stats: VenueRecordStats,
    ) -> None:
        self.venue = venue
        self.symbols = symbols
        self.writer = writer
        self.clock_ns = clock_ns
        self.exchange = exchange
        self.stats = stats
        self.feed: CcxtBookFeed | None = None
        self.trade_errors = 0

    def _write(self, ts: int, conn: str, payload: bytes) -> None:
        self.writer.write(ts, self.venue.id, conn, Kind.NORMALIZED, payload)
        self.stats.messages += 1

    async def instruments(self, note: Note) -> list[Instrument]:
        """Load the markets and return the instruments of the symbols; note those not found.

        Raises ``CcxtError`` (a ``VenueError``) when ``load_markets`` fails and
        ``DecodeError`` when a wanted market does not convert exactly.
        """
        try:
            markets: Mapping[str, Mapping[str, Any]] = await self.exchange.load_markets()
        except _CCXT_ERROR as e:
            raise classify(e, self.venue.id) from e
        wanted = set(self.symbols)
        mine = {k: m for k, m in markets.items() if _canonical(m) in wanted}
        found: dict[str, Instrument] = {}
        for inst in instruments_from_markets(self.venue.id, mine, self.exchange.precisionMode):
            found.setdefault(inst.symbol, inst)
        from arb.record import listed  # arb.record imports this module

        return listed(found, self.symbols, self.venue.id, note)

    async def run(self, stop: asyncio.Event, note: Note) -> None:
        """Record until ``stop`` is set; always closes the exchange."""
        try:
            insts = await _unless_stopped(self.instruments(note), stop)
            if insts is None:
                return
            if not insts:
                note(f"{self.venue.id}: no symbol to record")
                return
            for inst in insts:
                self.writer.add_instrument(inst)
            self.stats.symbols = [i.symbol for i in insts]
            v = self.venue
            self.feed = feed = CcxtBookFeed(
                self.exchange,
                insts,
                clock_ns=self.clock_ns,
                depth=v.book_depth,
                poll_interval_s=(v.poll_interval_ms or 1000) / 1000,
            )
            jobs = [self._books(feed, i) for i in insts]
            if self.exchange.has.get("watchTrades"):
                jobs += [self._trades(i) for i in insts]
            await _until_stopped(jobs, stop)
        finally:
            with contextlib.suppress(_CCXT_ERROR, TimeoutError):
                await asyncio.wait_for(self.exchange.close(), CLOSE_TIMEOUT_S)
            self._collect()

    async def _books(self, feed: CcxtBookFeed, inst: Instrument) -> None:
        # Cancelled (stop) while awaiting ccxt inside the generator, which then ends too.
        seq = 0
        async for snap in feed.books(inst.symbol):
            seq += 1
            self._write(snap.ts_recv, snap.channel, snapshot_frame(snap, inst, seq))

    async def _trades(self, inst: Instrument) -> None:
        # ccxt.pro returns the trades received since the previous call (``newUpdates``).
        backoff = (self.venue.poll_interval_ms or 1000) / 1000
        while True:
            try:
                rows = await self.exchange.watch_trades(inst.venue_symbol)
            except _NOT_SUPPORTED:
                return
            except _CCXT_ERROR:
                self.trade_errors += 1
                await asyncio.sleep(backoff)
                continue
            ts_recv = self.clock_ns()
            for row in rows:
                try:
                    trade = _trade(row, inst, ts_recv)
                except DataError:
                    self.trade_errors += 1
                    continue
                self._write(ts_recv, TRADES_CONN, trade_frame(trade, inst))

    def _collect(self) -> None:
        st = self.stats
        st.errors = self.trade_errors
        if self.feed is not None:
            st.errors += sum(self.feed.errors.values())
            st.resyncs = self.feed.resyncs
            if not self.feed.watching:
                st.rest_snapshots = st.messages


def _canonical(m: Mapping[str, Any]) -> str:
    # The canonical symbol of a ccxt market, "" for a shape arb does not trade (options).
    expiry = m.get("expiry")
    expiry_ms = expiry if isinstance(expiry, int) and not isinstance(expiry, bool) else 0
    try:
        return from_venue_symbol(str(m.get("symbol") or ""), expiry_ms)
    except ValueError:
        return ""


def _trade(row: Mapping[str, Any], inst: Instrument, ts_recv: int) -> Trade:
    # One ccxt public trade dict -> Trade (exact; DataError when a number does not fit).
    t = trade_view(row)
    return Trade(
        venue=inst.venue,
        symbol=inst.symbol,
        ts_event=t.timestamp_ms * NS_PER_MS if t.timestamp_ms > 0 else ts_recv,
        ts_recv=ts_recv,
        trade_id=t.id,
        px=inst.px_to_raw(t.price),
        qty=inst.qty_to_raw(t.amount),
        side=t.side if t.side in ("buy", "sell") else "unknown",
    )


async def _unless_stopped(aw: Awaitable[T], stop: asyncio.Event) -> T | None:
    # The result of ``aw``, or None (``aw`` cancelled) when ``stop`` is set first.
    task = asyncio.ensure_future(aw)
    stop_wait = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_wait.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return None if task.cancelled() else task.result()


async def _until_stopped(jobs: Sequence[Awaitable[None]], stop: asyncio.Event) -> None:
    # Run ``jobs`` until ``stop`` is set or all have ended; one that fails stops the others
    # and its error is raised.
    tasks = [asyncio.ensure_future(j) for j in jobs]
    stop_wait = asyncio.ensure_future(stop.wait())
    pending: set[asyncio.Future[Any]] = {stop_wait, *tasks}
    try:
        while stop_wait in pending and len(pending) > 1:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                exc = None if t is stop_wait else t.exception()
                if exc is not None:
                    raise exc
    finally:
        for t in (stop_wait, *tasks):
            t.cancel()
        await asyncio.gather(stop_wait, *tasks, return_exceptions=True)

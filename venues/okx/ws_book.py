"""OKX order books from WebSocket frames: decode, check the sequence, resync on a gap.

``OkxBookFeed.on_frame`` is the ``on_frame`` of an ``OkxWsClient``: each frame is decoded by
``OkxCodec`` and every book event goes through the instrument's ``BookSync`` (sequence rule
``seqId``/``prevSeqId``, checksum when non-zero, crossed-book check). A frame that cannot be
decoded is counted (``stats.decode_errors``) and skipped; it never stops the feed.

A book that breaks (a gap, a bad checksum, a crossed book) is cleared by ``BookSync`` and
resynchronized (reference §3.3, §3.6), in one of two ways:

- ``"rest"`` (the default when ``rest_books`` is given; OKX plans to stop sending the
  initial WebSocket snapshot): the deltas received meanwhile are buffered by ``BookSync``;
  ``GET /api/v5/market/books`` is fetched; a snapshot older than the broken stream (its
  ``seqId`` below the ``seqId`` of the last delta received before the buffer, §3.6 step 3)
  is fetched again; the snapshot is applied and the buffered deltas after it are replayed with
  the bracketing rule ``prevSeqId <= snapshot.seqId < seqId`` (§3.6 steps 4-5). The same
  procedure bootstraps a book whose first message is a delta (no initial WS snapshot);
- ``"resubscribe"`` (the default without ``rest_books``): unsubscribe and subscribe the
  channel again; OKX answers a subscribe with a fresh snapshot. If none arrives within
  ``resubscribe_timeout_s`` and ``rest_books`` is given, the REST procedure follows.

An accepted REST snapshot is recorded as an ``r`` frame (``conn`` = the request path) so
that ``arb verify`` and replays rebuild the same book; snapshots refused as too old are not
recorded (a replay would apply them and see a gap the live feed never had).

One book per instrument (``books[(venue, symbol)]``): the first book channel seen for an
instrument owns it; book events of another channel for the same instrument are passed on to
``on_event`` but do not touch the book.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Literal
from typing import Protocol

import msgspec

from arb.core.errors import DataError
from arb.core.errors import VenueError
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import MarketEvent
from arb.core.sync import BookSync
from arb.core.sync import Outcome
from arb.recording import Kind
from venues.okx.codec import REST_BOOKS_PATH
from venues.okx.codec import OkxCodec
from venues.okx.schemas import OkxBookRestDataMsg

__all__ = ["OkxBookFeed", "OkxBookFeedStats", "RestBooks"]

log = logging.getLogger(__name__)

RestBooks = Callable[[str], Awaitable[bytes | OkxBookRestDataMsg]]
"""``await rest_books(inst_id)``: the REST book, as the response body (bytes) or as
``OkxRestClient.books`` returns it (``data[0]``)."""
Recorder = Callable[[int, str, str, bytes], None]
ResyncMode = Literal["auto", "rest", "resubscribe"]
Key = tuple[str, str]

_APPLIED = Outcome.APPLIED
_BUFFERED = Outcome.BUFFERED
_STALE = Outcome.STALE
_GAP = Outcome.GAP
_RECV = Kind.RECV


class Resubscriber(Protocol):
    """What the feed needs of the WebSocket client (``OkxWsClient``)."""

    async def resubscribe(self, args: list[dict[str, str]]) -> None: ...


class OkxBookFeedStats(msgspec.Struct):
    """Counters of one ``OkxBookFeed`` (per-book counters are in ``books[k].stats``)."""

    frames: int = 0
    events: int = 0
    decode_errors: int = 0
    gaps: int = 0
    """Sequence gaps detected (each one starts a resync)."""
    invalidations: int = 0
    """Books dropped for any reason (gap, bad checksum, crossed)."""
    resyncs: int = 0
    """Resyncs completed: the book is valid again."""
    resync_failures: int = 0
    rest_fetches: int = 0
    rest_errors: int = 0
    stale_rest_snapshots: int = 0
    resubscribes: int = 0
    other_channel_events: int = 0


class OkxBookFeed:
    """Keep one valid ``BookSync`` per OKX instrument from WebSocket frames.

    Parameters
    ----------
    codec
        The ``OkxCodec`` of the instruments.
    clock_ns
        Wall clock in ns (receive time of REST snapshots).
    rest_books
        ``await rest_books(inst_id)`` returns the REST book (e.g. ``OkxRestClient.books``).
    client
        The ``OkxWsClient`` the frames come from (for ``resubscribe``); may be set later
        with ``bind``.
    recorder
        Receives accepted REST snapshots as ``r`` frames (the client's recorder).
    on_event
        Called with every decoded event after the books were updated.
    resync
        ``"auto"`` (REST if ``rest_books`` is given, else resubscribe), ``"rest"`` or
        ``"resubscribe"``.
    conn
        The ``conn`` passed to the codec (error messages).
    """

    def __init__(
        self,
        codec: OkxCodec,
        *,
        clock_ns: Callable[[], int],
        rest_books: RestBooks | None = None,
        client: Resubscriber | None = None,
        recorder: Recorder | None = None,
        on_event: Callable[[MarketEvent], None] | None = None,
        resync: ResyncMode = "auto",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        conn: str = "/ws/v5/public",
        rest_depth: int = 400,
        max_rest_attempts: int = 5,
        rest_retry_s: float = 0.05,
        resubscribe_timeout_s: float = 5.0,
    ) -> None:
        if resync == "rest" and rest_books is None:
            raise ValueError("resync='rest' needs rest_books")
        self.codec = codec
        self.books: dict[Key, BookSync] = {}
        self.stats = OkxBookFeedStats()
        self.last_error = ""
        self.client = client
        self.conn = conn
        self._clock = clock_ns
        self._rest_books = rest_books
        self._recorder = recorder
        self._on_event = on_event
        self._mode: ResyncMode = resync
        self._sleep = sleep
        self.rest_depth = rest_depth
        self.max_rest_attempts = max_rest_attempts
        self.rest_retry_s = rest_retry_s
        self.resubscribe_timeout_s = resubscribe_timeout_s
        self._decode = codec.decode
        self._inst_ids = {i.symbol: i.venue_symbol for i in codec.instruments()}
        self._channels: dict[Key, str] = {}
        self._latest: dict[Key, int] = {}  # last_seq of the last delta received, per book
        self._synced: dict[Key, asyncio.Event] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._enc = msgspec.json.Encoder()

    def bind(self, client: Resubscriber) -> None:
        """Set the client used to resubscribe (built after the feed, with its ``on_frame``)."""
        self.client = client

    # -- frames --------------------------------------------------------------------------

    def on_frame(self, ts_recv: int, payload: bytes) -> None:
        """Decode one received frame and update the books. Never raises for bad data."""
        st = self.stats
        st.frames += 1
        try:
            events = self._decode(_RECV, self.conn, payload, ts_recv)
        except (DataError, VenueError) as e:
            st.decode_errors += 1
            self.last_error = str(e)
            if st.decode_errors <= 10 or not st.decode_errors % 1000:
                log.warning("okx feed: frame %d not decoded: %s", st.frames, e)
            return
        on_event = self._on_event
        for ev in events:
            st.events += 1
            if type(ev) is BookDelta:
                self._on_delta(ev)
            elif type(ev) is BookSnapshot:
                self._on_snapshot(ev)
            if on_event is not None:
                on_event(ev)

    def _sync(self, venue: str, symbol: str, channel: str) -> BookSync | None:
        key = (venue, symbol)
        sync = self.books.get(key)
        if sync is None:
            sync = self.books[key] = self.codec.book_spec(symbol, channel).new_sync(venue, symbol)
            self._channels[key] = channel
        elif self._channels[key] != channel:
            self.stats.other_channel_events += 1
            return None
        return sync

    def _on_snapshot(self, s: BookSnapshot) -> None:
        sync = self._sync(s.venue, s.symbol, s.channel)
        if sync is None:
            return
        key = (s.venue, s.symbol)
        if sync.on_snapshot(s) is _APPLIED:
            ev = self._synced.get(key)
            if ev is not None:
                ev.set()
        elif sync.resync_requested:
            self._broken(key, self._latest.get(key, s.seq))

    def _on_delta(self, d: BookDelta) -> None:
        sync = self._sync(d.venue, d.symbol, d.channel)
        if sync is None:
            return
        key = (d.venue, d.symbol)
        out = sync.on_delta(d)
        if out is _APPLIED or out is _STALE:
            self._latest[key] = d.last_seq
            return
        self._latest[key] = d.last_seq
        if out is _BUFFERED:
            if key not in self._tasks and self._rest_mode():
                # No WS snapshot came first (OKX stopped sending it), or an earlier resync
                # gave up: (re)start from REST. The snapshot must reach this delta's
                # prevSeqId (§3.6 step 3); older buffered deltas then read as stale.
                self._start(key, d.prev_seq)
            return
        if out is _GAP:
            self.stats.gaps += 1
        # A gap drops the delta with the book; a bad checksum or a crossed book drops it
        # after applying it: either way the new snapshot must include it.
        self._broken(key, d.last_seq)

    def _broken(self, key: Key, need: int) -> None:
        self.stats.invalidations += 1
        sync = self.books[key]
        log.warning("okx feed: %s %s resync: %s", *key, sync.last_failure)
        self._start(key, need)

    # -- resync --------------------------------------------------------------------------

    def _rest_mode(self) -> bool:
        return self._rest_books is not None and self._mode != "resubscribe"

    def _start(self, key: Key, need: int) -> None:
        if key in self._tasks:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # frames fed outside an event loop (tests, tools): no I/O
            return
        if self._rest_mode():
            coro = self._resync_rest(key, need)
        elif self.client is not None:
            coro = self._resync_resubscribe(key, need)
        else:
            self.stats.resync_failures += 1
            log.warning("okx feed: %s %s cannot resync: no rest_books and no client", *key)
            return
        task = loop.create_task(coro)
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._forget(key, t))

    def _forget(self, key: Key, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    async def _resync_rest(self, key: Key, need: int) -> None:
        """REST snapshot + buffered deltas (reference §3.6). Bounded attempts."""
        assert self._rest_books is not None  # noqa: S101 - checked by _rest_mode
        st = self.stats
        sync = self.books[key]
        inst_id = self._inst_ids[key[1]]
        path = f"{REST_BOOKS_PATH}?instId={inst_id}&sz={self.rest_depth}"
        channel = self._channels[key]
        for attempt in range(self.max_rest_attempts):
            if attempt:
                await self._sleep(self.rest_retry_s * 2 ** (attempt - 1))
            if sync.valid:
                break  # a WS snapshot arrived meanwhile
            try:
                got = await self._rest_books(inst_id)
                st.rest_fetches += 1
                ts = self._clock()
                body = got if isinstance(got, bytes) else self._envelope(got)
                snaps = self._decode(Kind.REST, path, body, ts)
            except Exception as e:  # REST failures are retried here, never fatal to the feed
                st.rest_errors += 1
                self.last_error = f"REST book {inst_id}: {e!r}"
                log.warning("okx feed: %s", self.last_error)
                continue
            snap = snaps[0]
            if not isinstance(snap, BookSnapshot) or sync.valid:
                break
            if snap.seq < need:
                st.stale_rest_snapshots += 1  # older than the stream we hold: fetch again
                continue
            if snap.channel != channel:
                snap = msgspec.structs.replace(snap, channel=channel)
            if self._recorder is not None:
                self._recorder(ts, path, Kind.REST, body)
            if sync.on_snapshot(snap) is _APPLIED:
                break
            need = self._latest.get(key, need)  # the buffered deltas did not bracket it
        if sync.valid:
            st.resyncs += 1
        else:
            st.resync_failures += 1

    async def _resync_resubscribe(self, key: Key, need: int) -> None:
        """Unsubscribe + subscribe: OKX sends a fresh snapshot after a subscribe (§3.3)."""
        assert self.client is not None  # noqa: S101 - checked by _start
        sync = self.books[key]
        synced = self._synced.setdefault(key, asyncio.Event())
        synced.clear()
        self.stats.resubscribes += 1
        arg = {"channel": self._channels[key], "instId": self._inst_ids[key[1]]}
        await self.client.resubscribe([arg])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.resubscribe_timeout_s):
                await synced.wait()
        if sync.valid:
            self.stats.resyncs += 1
        elif self._rest_books is not None:
            await self._resync_rest(key, self._latest.get(key, need))
        else:
            self.stats.resync_failures += 1

    def _envelope(self, data: OkxBookRestDataMsg) -> bytes:
        return self._enc.encode({"code": "0", "msg": "", "data": [data]})

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def resyncing(self) -> list[Key]:
        """Books with a resync in flight."""
        return list(self._tasks)

    async def aclose(self) -> None:
        """Cancel the resyncs in flight."""
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

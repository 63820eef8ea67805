"""``arb record``: every venue's raw frames into an arb recording, rotated by size or time.

For each venue of CONFIG with ``kind = "okx"`` (its pairs' symbols through
``venues.okx.symbols``):

1. ``GET /api/v5/public/instruments`` once per ``instType`` the pairs need (``SPOT``, ``SWAP``
   for ``-PERP``, ``FUTURES`` for dated symbols, ``OPTION`` per family), recorded byte for byte
   as an ``r`` frame (``conn`` = the request path and query) so that the instruments can be
   rebuilt from the recording; the recorded symbols' instruments also go in the manifest;
2. the public WebSocket (``ws_url``, default ``wss://ws.okx.com:8443/ws/v5/public``) through
   ``OkxWsClient`` with the recording as its recorder: connects (``+``), subscribes and pings
   (``>``), every frame received (``<``) and disconnects (``-``), subscribed to ``books`` and
   ``trades`` of each symbol;
3. an ``OkxBookFeed`` on those frames: when a book breaks (a sequence gap) or starts without a
   WebSocket snapshot, it fetches the REST book and records it as an ``r`` frame, so that the
   recording replays into valid books (``arb verify``) as the live feed saw them.

Recording stops after ``duration_s`` or on SIGINT/SIGTERM (with ``handle_signals``); the WebSocket
connections are closed (``-`` frames), the last frames file is flushed and ``manifest.json``
written. Frames files rotate every ``rotate_bytes`` uncompressed bytes or ``rotate_s`` seconds;
each rotation also writes a checkpoint manifest, so a recorder killed outright still leaves a
readable recording of the files closed before.

Each ``kind = "ccxt"`` venue is recorded by ``arb.record_ccxt``: instruments from ccxt's
``load_markets``, then ccxt's books (and public trades) as arb's normalized frames (kind ``n``).
``sim`` venues have no market to record and are skipped with a note.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import Protocol

import aiohttp
import msgspec

from arb.config import Config
from arb.config import VenueConfig
from arb.core.errors import ConfigError
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.instruments import parse_symbol
from arb.record_ccxt import CcxtRecorder
from arb.record_ccxt import ccxt_symbols
from arb.recording import Kind
from arb.recording import RecordingWriter
from venues.ccxt.factory import make_exchange
from venues.okx.codec import REST_BOOKS_PATH
from venues.okx.codec import OkxCodec
from venues.okx.instruments import parse_instruments
from venues.okx.rest import DEFAULT_BASE_URL
from venues.okx.rest import OkxRestClient
from venues.okx.symbols import to_venue_symbol
from venues.okx.ws import OkxWsClient
from venues.okx.ws_book import OkxBookFeed

__all__ = [
    "DEFAULT_WS_PUBLIC_URL",
    "INSTRUMENTS_PATH",
    "RecordReport",
    "VenueRecordStats",
    "instrument_queries",
    "listed",
    "okx_instruments",
    "record",
]

DEFAULT_WS_PUBLIC_URL = "wss://ws.okx.com:8443/ws/v5/public"
INSTRUMENTS_PATH = "/api/v5/public/instruments"
CHANNELS = ("books", "trades")
REST_DEPTH = 400

_INST_TYPES = {
    InstrumentKind.SPOT: "SPOT",
    InstrumentKind.PERP: "SWAP",
    InstrumentKind.FUTURE: "FUTURES",
    InstrumentKind.OPTION: "OPTION",
}

Note = Callable[[str], None]


class VenueRecordStats(msgspec.Struct, kw_only=True):
    """What was recorded of one venue."""

    venue: str
    symbols: list[str]
    messages: int = 0
    connects: int = 0
    reconnects: int = 0
    errors: int = 0
    gaps: int = 0
    resyncs: int = 0
    rest_snapshots: int = 0


class RecordReport(msgspec.Struct, kw_only=True):
    """The JSON line ``arb record`` prints at the end."""

    out: str
    files: list[str]
    frames: int
    start_ns: int
    end_ns: int
    seconds: float
    stopped_by: str
    venues: list[VenueRecordStats]
    skipped: list[str]


class _Recorder(Protocol):
    stats: VenueRecordStats

    async def run(self, stop: asyncio.Event, note: Note) -> None: ...


class _OkxRecorder:
    """One OKX venue: instruments over REST, then the public WebSocket into the recording."""

    def __init__(
        self,
        venue: VenueConfig,
        symbols: list[str],
        writer: RecordingWriter,
        clock_ns: Callable[[], int],
    ) -> None:
        self.venue = venue
        self.symbols = symbols
        self.writer = writer
        self.clock_ns = clock_ns
        self.rest = OkxRestClient(
            None, base_url=venue.rest_url or DEFAULT_BASE_URL, clock_ns=clock_ns
        )
        self.ws: OkxWsClient | None = None
        self.feed: OkxBookFeed | None = None
        self.stats = VenueRecordStats(venue=venue.id, symbols=[])

    def _write(self, ts: int, conn: str, kind: str, payload: bytes) -> None:
        self.writer.write(ts, self.venue.id, conn, kind, payload)

    async def _rest_book(self, inst_id: str) -> bytes:
        # The body byte for byte: the feed records what it applies (``r`` frame).
        return await self.rest.raw_get(REST_BOOKS_PATH, {"instId": inst_id, "sz": str(REST_DEPTH)})

    async def instruments(self, note: Note) -> list[Instrument]:
        """Fetch (and record) the instruments of the symbols; note the symbols not found."""
        found = await okx_instruments(self.rest, self.symbols, self._write, self.clock_ns)
        return listed(found, self.symbols, self.venue.id, note)

    async def run(self, stop: asyncio.Event, note: Note) -> None:
        """Record until ``stop`` is set; always closes the REST client and the feed."""
        try:
            insts = await self.instruments(note)
            if not insts:
                note(f"{self.venue.id}: no symbol to record")
                return
            for inst in insts:
                self.writer.add_instrument(inst)
            self.stats.symbols = [i.symbol for i in insts]
            # The codec decodes venue "okx" instruments (the wire format), whatever the id.
            codec = OkxCodec([msgspec.structs.replace(i, venue="okx") for i in insts])
            self.feed = feed = OkxBookFeed(
                codec,
                clock_ns=self.clock_ns,
                rest_books=self._rest_book,
                recorder=self._write,
                rest_depth=REST_DEPTH,
            )
            self.ws = ws = OkxWsClient(
                self.venue.ws_url or DEFAULT_WS_PUBLIC_URL,
                clock_ns=self.clock_ns,
                on_frame=feed.on_frame,
                recorder=self._write,
            )
            feed.bind(ws)
            await ws.subscribe(
                [{"channel": c, "instId": i.venue_symbol} for i in insts for c in CHANNELS]
            )
            await ws.run(stop)
        finally:
            if self.feed is not None:
                await self.feed.aclose()
            await self.rest.close()
            self._collect()

    def _collect(self) -> None:
        st = self.stats
        if self.ws is not None:
            ws = self.ws.stats
            st.messages, st.connects, st.reconnects = ws.messages, ws.connects, ws.reconnects
            st.errors = ws.errors
        if self.feed is not None:
            fs = self.feed.stats
            st.gaps, st.resyncs, st.rest_snapshots = fs.gaps, fs.resyncs, fs.rest_fetches
            st.errors += fs.decode_errors + fs.rest_errors


async def okx_instruments(
    rest: OkxRestClient,
    symbols: list[str],
    write: Callable[[int, str, str, bytes], None],
    clock_ns: Callable[[], int],
) -> dict[str, Instrument]:
    """OKX's instruments for ``symbols`` by canonical symbol (``public/instruments``, one
    query per instType); each answer is handed to ``write(ts, conn, kind, body)``."""
    found: dict[str, Instrument] = {}
    for params in instrument_queries(symbols):
        body = await rest.raw_get(INSTRUMENTS_PATH, params)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        write(clock_ns(), f"{INSTRUMENTS_PATH}?{query}", Kind.REST, body)
        for inst in parse_instruments(body):
            found.setdefault(inst.symbol, inst)
    return found


def listed(
    found: Mapping[str, Instrument], symbols: list[str], venue_id: str, note: Note
) -> list[Instrument]:
    """The instruments of ``symbols`` in ``found``, as venue ``venue_id``; a symbol the venue
    does not list is noted and left out."""
    out = []
    for symbol in symbols:
        inst = found.get(symbol)
        if inst is None:
            note(f"{venue_id}: {symbol} is not listed by the venue; not recorded")
            continue
        out.append(msgspec.structs.replace(inst, venue=venue_id))
    return out


def instrument_queries(symbols: list[str]) -> list[dict[str, str]]:
    """The ``public/instruments`` queries for canonical ``symbols``: one per instType they
    need (options: one per family, as OKX requires)."""
    queries: dict[tuple[str, str], dict[str, str]] = {}
    for symbol in symbols:
        base, quote, kind = parse_symbol(symbol)
        inst_type = _INST_TYPES[kind]
        family = f"{base}-{quote}" if kind is InstrumentKind.OPTION else ""
        params = {"instType": inst_type} | ({"instFamily": family} if family else {})
        queries.setdefault((inst_type, family), params)
    return list(queries.values())


def _okx_symbols(cfg: Config, venue_id: str) -> list[str]:
    symbols = [p.symbol for p in cfg.pairs if venue_id in p.venues]
    for s in symbols:
        try:
            to_venue_symbol(s)
        except ValueError as e:
            raise ConfigError(f"venue {venue_id}: {e}") from e
    return list(dict.fromkeys(symbols))


def _okx_plan(
    v: VenueConfig, symbols: list[str], clock_ns: Callable[[], int]
) -> Callable[[RecordingWriter], _Recorder]:
    return lambda writer: _OkxRecorder(v, symbols, writer, clock_ns)


def _ccxt_plan(
    v: VenueConfig,
    symbols: list[str],
    clock_ns: Callable[[], int],
    session: aiohttp.ClientSession | None,
) -> Callable[[RecordingWriter], _Recorder]:
    # Public data: no credentials. Building the exchange makes no request.
    exchange = make_exchange(v, credentials={}, session=session)
    stats = VenueRecordStats(venue=v.id, symbols=[])
    return lambda writer: CcxtRecorder(v, symbols, writer, clock_ns, exchange, stats)


@contextlib.contextmanager
def _signals(stop: asyncio.Event, stopped_by: list[str], enabled: bool) -> Iterator[None]:
    # SIGINT/SIGTERM set ``stop`` (main thread only; elsewhere nothing is installed).
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        stopped_by.append(f"signal {sig.name}")
        stop.set()

    if enabled:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                continue
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def record(
    cfg: Config,
    out: str | Path,
    *,
    duration_s: float | None = None,
    rotate_bytes: int = 512 * 1024 * 1024,
    rotate_s: float = 3600.0,
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
    clock_ns: Callable[[], int] = time.time_ns,
    note: Note = print,
    ccxt_session: aiohttp.ClientSession | None = None,
) -> RecordReport:
    """Record the venues of ``cfg`` into the new recording directory ``out``.

    Parameters
    ----------
    cfg
        The config: its ``kind = "okx"`` and ``kind = "ccxt"`` venues are recorded, with the
        symbols of their pairs.
    out
        A new directory (or an empty one).
    duration_s
        Stop after this many seconds (``None``: until ``stop`` or a signal).
    rotate_bytes, rotate_s
        Start a new frames file after this many uncompressed bytes or seconds (0: never).
    stop
        Set it to stop recording (e.g. from another task).
    handle_signals
        Stop on SIGINT/SIGTERM (main thread only).
    note
        Receives one line per skipped venue or symbol.
    ccxt_session
        The aiohttp session of the ccxt venues' requests (not closed here); ``None``: ccxt's
        own per exchange.

    Returns
    -------
    RecordReport
        Files, frames, time range and per-venue counters; the manifest is written.

    Raises
    ------
    RecordingError
        ``out`` already holds a recording.
    ConfigError
        A pair's symbol has no OKX (or ccxt) form; a ccxt venue's exchange id or URLs are
        invalid.
    VenueError
        The instruments could not be fetched (nothing is recorded of the venues after it).
    """
    stop = stop or asyncio.Event()
    stopped_by: list[str] = []
    skipped: list[str] = []

    def skip(line: str) -> None:
        skipped.append(line)
        note(line)

    # Everything that can be refused is checked before the recording directory is made.
    plan: list[Callable[[RecordingWriter], _Recorder]] = []
    for v in cfg.venues:
        if v.kind == "okx":
            plan.append(_okx_plan(v, _okx_symbols(cfg, v.id), clock_ns))
        elif v.kind == "ccxt":
            plan.append(_ccxt_plan(v, ccxt_symbols(cfg, v.id), clock_ns, ccxt_session))
        else:
            why = "no market to record" if v.kind == "sim" else "arb records okx and ccxt venues"
            skip(f"{v.id}: skipped (kind {v.kind}): {why}")
    writer = RecordingWriter(
        out, source="arb record", rotate_bytes=rotate_bytes, rotate_s=rotate_s, checkpoint=True
    )
    writer.notes["config_venues"] = ",".join(v.id for v in cfg.venues)
    recorders = [make(writer) for make in plan]
    t0 = time.monotonic()
    try:
        with _signals(stop, stopped_by, handle_signals):
            timer = None
            if duration_s is not None:
                timer = asyncio.get_running_loop().call_later(max(duration_s, 0.0), stop.set)
            tasks = [asyncio.ensure_future(r.run(stop, skip)) for r in recorders]
            try:
                await _until_stopped(tasks, stop)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                if timer is not None:
                    timer.cancel()
    finally:
        manifest = writer.close()
    if not stopped_by:
        stopped_by.append("duration" if duration_s is not None else "stop")
    return RecordReport(
        out=str(out),
        files=manifest.files,
        frames=manifest.frames,
        start_ns=manifest.start_ns,
        end_ns=manifest.end_ns,
        seconds=round(time.monotonic() - t0, 3),
        stopped_by=stopped_by[0],
        venues=[r.stats for r in recorders],
        skipped=skipped,
    )


async def _until_stopped(tasks: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
    # Wait for ``stop``; a venue task failing (no instruments, refused) stops the recording
    # and its error is raised (the frames so far are kept).
    stop_wait = asyncio.ensure_future(stop.wait())
    pending: set[asyncio.Future[Any]] = {stop_wait, *tasks}
    try:
        while pending - {stop_wait} and not stop.is_set():  # until every venue ended
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                exc = None if t is stop_wait else t.exception()
                if exc is not None:
                    raise exc
    finally:
        stop_wait.cancel()

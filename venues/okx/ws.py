"""OKX v5 WebSocket client: one logical connection kept alive, re-subscribed and recorded.

``OkxWsClient`` owns one connection to one URL (``/ws/v5/public``, ``/private`` or
``/business``; reference §2.1) and keeps it alive for as long as ``run(stop)`` runs:

- **keep-alive** (§2.2): OKX closes a connection that received nothing for 30 s (close code
  4004). When nothing was received for ``ping_after_s`` (< 30 s) the client sends the *text*
  frame ``ping`` (not a WebSocket control ping) and expects the text ``pong``; when nothing
  at all arrives within ``pong_timeout_s`` more, the connection is treated as dead;
- **reconnect**: after a close, an error or a missing pong, with exponential backoff and
  jitter (``backoff_s = (base, cap)``; the delay is ``min(cap, base * 2**n)`` scaled by a
  random factor in [0.5, 1)). The attempt counter resets once a connection serves data;
- **connection rate** (§2.2): at most ``max_connects_per_s`` connection attempts per second
  (OKX allows 3 per IP; share one ``ConnectRateLimiter`` between clients of one IP);
- **login** (§2.3, private connections): on every connection the ``login`` op is sent first
  (``login()`` returns its ``args[0]``, built fresh each time since OKX refuses a timestamp
  older than 30 s) and subscriptions are sent only after ``{"event":"login","code":"0"}``.
  A login error (an ``error`` event, or close code 4001/4007) stops ``run`` with
  ``OkxWsLoginError``: it is never retried;
- **subscriptions** (§2.4): ``subscribe(args)`` remembers them and sends them now if
  connected; every new connection sends all of them again;
- **notice 64008** (§2.5, "the connection will soon be closed for a service upgrade"): a
  seamless handover. A new connection is opened (and logged in) while the old one keeps
  delivering frames; its subscriptions are sent, and once every one is acknowledged (or
  after ``handover_timeout_s``) the new connection is promoted in one step: the frames it
  received so far are delivered, the old connection's later frames are dropped (counted in
  ``dropped_after_handover``; they are duplicates of what the new one carries) and the old
  connection is closed. Book channels restart from the new connection's snapshot, so no
  sequence gap appears; trades pushed during the switch may be delivered twice (the
  consumer deduplicates by ``tradeId``).

Every received frame is passed to ``on_frame(ts_recv_ns, payload)`` exactly as received and,
with a ``recorder``, recorded in the order it is delivered: ``recorder(ts_ns, conn, kind,
payload)`` with ``kind`` one of ``arb.recording.Kind`` (``<`` received, ``>`` sent, ``+``
connected (payload: the URL), ``-`` disconnected (payload: the reason)) and ``conn`` the URL
path. The login op is recorded with its arguments redacted: a recording never holds the API
key, the passphrase or a signature. Frames of a replaced connection dropped after a handover
are not recorded (so that a replay sees what the consumer saw).

Time stamps come from the injected ``clock_ns``; backoff and rate-limit waits use the
injected ``sleep``; the keep-alive timers use the event loop's clock (real time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec

from arb.core.errors import VenueError
from arb.recording import Kind

__all__ = [
    "NOTICE_RECONNECT",
    "ConnectRateLimiter",
    "OkxWsClient",
    "OkxWsConnectionLost",
    "OkxWsError",
    "OkxWsLoginError",
    "OkxWsStats",
]

log = logging.getLogger(__name__)

VENUE = "okx"
NOTICE_RECONNECT = "64008"
"""``notice`` code: the connection will be closed soon for a service upgrade (§2.5)."""
LOGIN_CLOSE_CODES = frozenset((4001, 4007))
"""Close codes meaning the credentials were refused (login failed, API key updated/deleted)."""
MAX_SUBSCRIBE_BYTES = 60_000
"""OKX caps the channels of one subscribe request at 64 KB; larger lists are split."""

_PING = b"ping"
_PONG = b"pong"
_EVENT_KEY = b'"event"'
_EVENT_WINDOW = 80  # events start {"event":... or {"id":"<= 32 chars>","event":...
_LOGIN_REDACTED = b'{"op":"login","args":["<redacted>"]}'
_DATA_TYPES = frozenset((aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY))
_CLOSED_TYPES = frozenset(
    (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)
)

Recorder = Callable[[int, str, str, bytes], None]
OnFrame = Callable[[int, bytes], None]
Sleep = Callable[[float], Awaitable[None]]
Args = dict[str, str]


class OkxWsError(VenueError):
    """An OKX WebSocket failure (``venue`` is ``"okx"``; ``code`` as received, if any)."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = True) -> None:
        super().__init__(message, venue=VENUE, code=code, retryable=retryable)


class OkxWsLoginError(OkxWsError):
    """The venue refused the login (error event 600xx, or close code 4001/4007). Not retried."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message, code=code, retryable=False)


class OkxWsConnectionLost(OkxWsError):
    """The connection closed before the login answer arrived (retried with backoff)."""


class OkxWsStats(msgspec.Struct):
    """Counters of one ``OkxWsClient``."""

    connects: int = 0
    """Connections opened (handshake completed)."""
    reconnects: int = 0
    """Connections lost and replaced (a 64008 handover is counted in ``handovers``)."""
    messages: int = 0
    """Frames received, all connections."""
    sent: int = 0
    pings: int = 0
    pongs: int = 0
    errors: int = 0
    """Failed connects, transport errors, missing pongs, ``error`` events, callback errors."""
    notices: int = 0
    handovers: int = 0
    dropped_after_handover: int = 0


class _EventMsg(msgspec.Struct, gc=False):
    """An event frame: ``{"event":"login","code":"0","msg":"","connId":"a4d3ae55"}``."""

    event: str = ""
    code: str = ""
    msg: str = ""


class ConnectRateLimiter:
    """At most ``per_second`` connection attempts in any 1 s window; callers wait their turn.

    Share one instance between the clients that connect from one IP (OKX: 3 per second).
    """

    def __init__(
        self, per_second: int = 3, *, clock_ns: Callable[[], int], sleep: Sleep = asyncio.sleep
    ) -> None:
        if per_second < 1:
            raise ValueError(f"per_second must be >= 1; received {per_second}")
        self.per_second = per_second
        self._clock = clock_ns
        self._sleep = sleep
        self._times: deque[int] = deque()
        self.waits = 0

    async def acquire(self) -> None:
        """Return once an attempt may be made now (and count it)."""
        times = self._times
        while True:
            now = self._clock()
            while times and times[0] <= now - 1_000_000_000:
                times.popleft()
            if len(times) < self.per_second:
                times.append(now)
                return
            self.waits += 1
            await self._sleep(max((times[0] + 1_000_000_000 - now) / 1e9, 0.001))


class _Conn:
    """One WebSocket connection and its state (internal)."""

    __slots__ = (
        "acked",
        "acks_pending",
        "closed",
        "live",
        "login",
        "pending",
        "reader",
        "ready",
        "retired",
        "serial",
        "ws",
    )

    def __init__(self, ws: aiohttp.ClientWebSocketResponse[bool], serial: int, live: bool):
        self.ws = ws
        self.serial = serial
        self.live = live  # frames are delivered (False: a handover candidate, frames held)
        self.retired = False  # replaced by a handover: frames dropped
        self.ready = False  # logged in (if private) and subscriptions sent
        self.closed = False
        self.acks_pending = 0
        self.acked = asyncio.Event()
        self.login: asyncio.Future[None] | None = None
        self.pending: list[tuple[int, bytes]] = []
        self.reader: asyncio.Task[str] | None = None


class OkxWsClient:
    """Keep one OKX WebSocket connection alive, subscribed and (optionally) recorded.

    Parameters
    ----------
    url
        ``wss://ws.okx.com:8443/ws/v5/public`` (or ``/private``, ``/business``, a sandbox URL).
    clock_ns
        Wall clock in ns (receive time stamps, the connection-rate window).
    on_frame
        Called with ``(ts_recv_ns, payload)`` for every frame received (events, ``pong``
        and pushes alike), in order. An exception it raises is counted and logged.
    sleep
        Awaitable sleep used for backoff and rate-limit waits.
    session
        An ``aiohttp.ClientSession`` to use; by default one is created and closed by ``run``.
    login
        Returns the ``args[0]`` of the login op (see ``venues.okx.signer.ws_login_args``);
        ``None`` for public connections.
    recorder
        ``recorder(ts_ns, conn, kind, payload)``, e.g. a ``RecordingWriter.write`` bound to
        the venue; ``None`` records nothing.
    ping_after_s, pong_timeout_s
        Send ``ping`` after this long without a frame; reconnect when nothing arrives within
        ``pong_timeout_s`` after it (default: ``ping_after_s``). Both > 0, and their sum
        should stay under OKX's 30 s.
    backoff_s
        ``(base, cap)`` of the reconnect backoff, seconds.
    max_connects_per_s, connect_limiter
        The connection-rate limit, or a limiter shared with other clients.
    rng
        Jitter source (seed it in tests).
    """

    def __init__(
        self,
        url: str,
        *,
        clock_ns: Callable[[], int],
        on_frame: OnFrame,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
        login: Callable[[], Args] | None = None,
        recorder: Recorder | None = None,
        ping_after_s: float = 25.0,
        pong_timeout_s: float | None = None,
        backoff_s: tuple[float, float] = (0.5, 30.0),
        max_connects_per_s: int = 3,
        connect_limiter: ConnectRateLimiter | None = None,
        rng: random.Random | None = None,
        connect_timeout_s: float = 10.0,
        login_timeout_s: float = 10.0,
        handover_timeout_s: float = 10.0,
    ) -> None:
        if ping_after_s <= 0 or (pong_timeout_s is not None and pong_timeout_s <= 0):
            raise ValueError("ping_after_s and pong_timeout_s must be > 0")
        if not 0 < backoff_s[0] <= backoff_s[1]:
            raise ValueError(f"backoff_s must be (base, cap) with 0 < base <= cap: {backoff_s}")
        self.url = url
        self.conn_id = urlsplit(url).path or "/"
        """The ``conn`` of recorded frames: the URL path (``/ws/v5/public``)."""
        self._clock = clock_ns
        self._on_frame = on_frame
        self._sleep = sleep
        self._session = session
        self._own_session = session is None
        self._login = login
        self._recorder = recorder
        self.ping_after_s = ping_after_s
        self.pong_timeout_s = ping_after_s if pong_timeout_s is None else pong_timeout_s
        self.backoff_s = backoff_s
        self.limiter = connect_limiter or ConnectRateLimiter(
            max_connects_per_s, clock_ns=clock_ns, sleep=sleep
        )
        self._rng = rng or random.Random()
        self.connect_timeout_s = connect_timeout_s
        self.login_timeout_s = login_timeout_s
        self.handover_timeout_s = handover_timeout_s
        self.stats = OkxWsStats()
        self._subs: list[Args] = []
        self._conns: set[_Conn] = set()
        self._current: _Conn | None = None
        self._handover: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._fatal: OkxWsLoginError | None = None
        self._attempt = 0
        self._serial = 0
        self._event_dec = msgspec.json.Decoder(_EventMsg)
        self._enc = msgspec.json.Encoder()

    # -- public API ----------------------------------------------------------------------

    @property
    def subscriptions(self) -> list[Args]:
        """The subscriptions re-sent on every new connection."""
        return [dict(a) for a in self._subs]

    @property
    def connected(self) -> bool:
        """True while a connection is open and its subscriptions were sent."""
        c = self._current
        return c is not None and c.ready and not c.closed

    async def subscribe(self, args: list[Args]) -> None:
        """Remember ``args`` (``[{"channel": "books", "instId": "BTC-USDT"}, ...]``) and
        subscribe now on the open connection(s); every reconnect subscribes them again."""
        new = [dict(a) for a in args if a not in self._subs]
        if not new:
            return
        self._subs.extend(new)
        for conn in self._ready_conns():
            if not conn.live:
                conn.acks_pending += len(new)
            await self._send_ops_quietly(conn, "subscribe", new)

    async def unsubscribe(self, args: list[Args]) -> None:
        """Forget ``args`` and unsubscribe them on the open connection(s)."""
        gone = [a for a in args if a in self._subs]
        if not gone:
            return
        self._subs = [a for a in self._subs if a not in gone]
        for conn in self._ready_conns():
            await self._send_ops_quietly(conn, "unsubscribe", gone)

    async def resubscribe(self, args: list[Args]) -> None:
        """Unsubscribe then subscribe ``args`` on the current connection: OKX answers a
        subscribe to a book channel with a fresh snapshot (a resync, reference §3.3)."""
        conn = self._current
        if conn is None or not conn.ready or conn.closed:
            return  # the next connection subscribes (and gets a snapshot) anyway
        await self._send_ops_quietly(conn, "unsubscribe", args)
        await self._send_ops_quietly(conn, "subscribe", args)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the connection alive until ``stop`` is set.

        Raises ``OkxWsLoginError`` when the venue refuses the login (never retried).
        """
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                conn = self._current
                if conn is None:
                    conn = await self._establish(stop_wait)
                    if conn is None:
                        break
                assert conn.reader is not None  # noqa: S101 - set by _open
                await asyncio.wait((conn.reader, stop_wait), return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    break
                reason = _reason(conn.reader)
                await self._close(conn, reason)
                if self._fatal is not None:
                    raise self._fatal
                if conn is self._current and self._handover is not None:
                    # The old connection died during a handover: let the new one finish.
                    await asyncio.wait(
                        (self._handover, stop_wait), return_when=asyncio.FIRST_COMPLETED
                    )
                if conn is not self._current:
                    continue  # replaced by a handover: carry on with the new connection
                self._current = None
                self.stats.reconnects += 1
                log.info("okx %s: reconnecting (%s)", self.conn_id, reason)
                await self._backoff(stop_wait)
            if self._fatal is not None:
                raise self._fatal
        finally:
            stop_wait.cancel()
            await self._shutdown()

    # -- connections ---------------------------------------------------------------------

    async def _establish(self, stop_wait: asyncio.Future[Any]) -> _Conn | None:
        """Open a connection, retrying with backoff; ``None`` when stopped first."""
        while not stop_wait.done():
            opener = asyncio.ensure_future(self._open(live=True))
            await asyncio.wait((opener, stop_wait), return_when=asyncio.FIRST_COMPLETED)
            if not opener.done():
                opener.cancel()  # stopped while connecting (_open closes what it opened)
                await asyncio.gather(opener, return_exceptions=True)
                return None
            try:
                conn = opener.result()
            except OkxWsLoginError as e:
                self._fatal = e
                raise
            except (aiohttp.ClientError, OSError, TimeoutError, OkxWsConnectionLost) as e:
                self.stats.errors += 1
                log.warning("okx %s: connection failed: %r", self.conn_id, e)
                await self._backoff(stop_wait)
                continue
            self._current = conn
            return conn
        return None

    async def _open(self, *, live: bool) -> _Conn:
        """Connect, log in (private), send the subscriptions. Raises on failure."""
        await self.limiter.acquire()
        session = self._session
        if session is None:
            session = self._session = aiohttp.ClientSession()
        async with asyncio.timeout(self.connect_timeout_s):
            ws = await session.ws_connect(
                self.url, autoping=True, decode_text=False, heartbeat=None
            )
        self._serial += 1
        conn = _Conn(ws, self._serial, live)
        self._conns.add(conn)
        self.stats.connects += 1
        self._record(self._clock(), Kind.OPEN, self.url.encode())
        conn.reader = asyncio.ensure_future(self._read(conn))
        try:
            if self._login is not None:
                await self._log_in(conn)
            subs = list(self._subs)
            conn.ready = True
            conn.acks_pending = len(subs)
            if not subs:
                conn.acked.set()
            await self._send_ops(conn, "subscribe", subs)
        except BaseException as e:
            await self._close(conn, f"setup failed: {e!r}")
            raise
        return conn

    async def _log_in(self, conn: _Conn) -> None:
        assert self._login is not None  # noqa: S101 - checked by the caller
        fut = conn.login = asyncio.get_running_loop().create_future()
        payload = self._enc.encode({"op": "login", "args": [self._login()]})
        await self._send(conn, payload, recorded=_LOGIN_REDACTED)
        try:
            async with asyncio.timeout(self.login_timeout_s):
                await fut
        except TimeoutError:
            raise OkxWsConnectionLost(
                f"okx {self.conn_id}: no login answer within {self.login_timeout_s} s"
            ) from None

    async def _close(self, conn: _Conn, reason: str) -> None:
        """Close ``conn`` (idempotent) and record ``-``."""
        if conn.closed:
            return
        conn.closed = True
        self._conns.discard(conn)
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            await conn.ws.close()
        if conn.reader is not None and not conn.reader.done():
            conn.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conn.reader
        if not conn.retired:
            self._record(self._clock(), Kind.CLOSE, reason.encode())

    async def _shutdown(self) -> None:
        if self._handover is not None:
            self._handover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._handover
            self._handover = None
        for conn in list(self._conns):
            await self._close(conn, "stopped")
        self._current = None
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _backoff(self, stop_wait: asyncio.Future[Any]) -> None:
        base, cap = self.backoff_s
        delay = min(cap, base * 2.0 ** min(self._attempt, 30))
        delay *= 0.5 + 0.5 * self._rng.random()
        self._attempt += 1
        sleeper = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait((sleeper, stop_wait), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()

    def _ready_conns(self) -> list[_Conn]:
        return [c for c in self._conns if c.ready and not c.retired and not c.closed]

    # -- sending -------------------------------------------------------------------------

    async def _send_ops(self, conn: _Conn, op: str, args: list[Args]) -> None:
        for chunk in _chunks(self._enc, args):
            await self._send(conn, self._enc.encode({"op": op, "args": chunk}))

    async def _send_ops_quietly(self, conn: _Conn, op: str, args: list[Args]) -> None:
        # From the public API: a connection closing under us is the reader's business (the
        # next connection subscribes everything again).
        try:
            await self._send_ops(conn, op, args)
        except (aiohttp.ClientError, OSError) as e:
            log.info("okx %s: %s not sent (%r)", self.conn_id, op, e)

    async def _send(self, conn: _Conn, payload: bytes, recorded: bytes | None = None) -> None:
        self._record(self._clock(), Kind.SENT, payload if recorded is None else recorded)
        self.stats.sent += 1
        await conn.ws.send_str(payload.decode())

    # -- receiving -----------------------------------------------------------------------

    async def _read(self, conn: _Conn) -> str:
        """Read ``conn`` until it closes; return why. Runs the ping/pong keep-alive."""
        ws = conn.ws
        awaiting_pong = False
        reason = "closed"
        try:
            while True:
                timeout = self.pong_timeout_s if awaiting_pong else self.ping_after_s
                try:
                    msg = await ws.receive(timeout=timeout)
                except TimeoutError:
                    if awaiting_pong:
                        self.stats.errors += 1
                        reason = f"no pong within {self.pong_timeout_s} s"
                        return reason
                    awaiting_pong = True
                    self.stats.pings += 1
                    await self._send(conn, _PING)
                    continue
                if msg.type in _DATA_TYPES:
                    awaiting_pong = False
                    data = msg.data
                    payload = data if isinstance(data, bytes) else str(data).encode()
                    self._on_message(conn, self._clock(), payload)
                elif msg.type in _CLOSED_TYPES:
                    reason = f"closed by the venue (code {ws.close_code})"
                    return reason
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    self.stats.errors += 1
                    reason = f"error: {ws.exception()!r}"
                    return reason
        except (aiohttp.ClientError, OSError) as e:
            self.stats.errors += 1
            reason = f"transport error: {e!r}"
            return reason
        finally:
            fut = conn.login
            if fut is not None and not fut.done():
                code = ws.close_code
                if code in LOGIN_CLOSE_CODES:
                    fut.set_exception(
                        OkxWsLoginError(f"okx {self.conn_id}: login refused (close code {code})")
                    )
                else:
                    fut.set_exception(OkxWsConnectionLost(f"okx {self.conn_id}: {reason}"))

    def _on_message(self, conn: _Conn, ts: int, payload: bytes) -> None:
        st = self.stats
        st.messages += 1
        if conn.retired:
            st.dropped_after_handover += 1
            return
        if payload == _PONG:
            st.pongs += 1
            self._attempt = 0
        elif payload.find(_EVENT_KEY, 0, _EVENT_WINDOW) >= 0:
            self._on_event(conn, payload)
        else:
            self._attempt = 0  # the venue serves data: the next failure starts a new backoff
        if conn.live:
            self._deliver(ts, payload)
        else:
            conn.pending.append((ts, payload))

    def _deliver(self, ts: int, payload: bytes) -> None:
        self._record(ts, Kind.RECV, payload)
        try:
            self._on_frame(ts, payload)
        except Exception:  # a consumer bug must not kill the connection
            self.stats.errors += 1
            log.exception("okx %s: on_frame raised", self.conn_id)

    def _on_event(self, conn: _Conn, payload: bytes) -> None:
        """Events: ``login``, ``subscribe`` acks, ``error``, ``notice`` (64008), ...

        Sample::

            {"event":"notice","code":"64008","msg":"The connection will soon be closed for
             a service upgrade. Please reconnect.","connId":"a4d3ae55"}
        """
        try:
            ev = self._event_dec.decode(payload)
        except msgspec.DecodeError:
            return  # not an event after all; the consumer's codec judges it
        event = ev.event
        if event == "subscribe":
            self._acked(conn)
        elif event == "login":
            fut = conn.login
            if fut is not None and not fut.done():
                if ev.code in ("", "0"):
                    fut.set_result(None)
                else:
                    fut.set_exception(_login_error(self.conn_id, ev))
        elif event == "error":
            self.stats.errors += 1
            fut = conn.login
            if fut is not None and not fut.done():
                fut.set_exception(_login_error(self.conn_id, ev))
                return
            log.warning("okx %s: error event %s: %s", self.conn_id, ev.code, ev.msg)
            if not conn.live and conn.acks_pending:
                self._acked(conn)  # a refused subscription must not stall a handover
        elif event == "notice":
            self.stats.notices += 1
            log.warning("okx %s: notice %s: %s", self.conn_id, ev.code, ev.msg)
            if ev.code == NOTICE_RECONNECT and conn is self._current and self._handover is None:
                self._handover = asyncio.ensure_future(self._do_handover(conn))
        elif event == "channel-conn-count-error":
            self.stats.errors += 1
            log.warning("okx %s: channel connection count exceeded: %r", self.conn_id, payload)

    def _acked(self, conn: _Conn) -> None:
        conn.acks_pending -= 1
        if conn.acks_pending <= 0:
            conn.acked.set()
            if not conn.live and conn.ready and not conn.closed:
                self._promote(conn)

    # -- 64008 handover ------------------------------------------------------------------

    async def _do_handover(self, old: _Conn) -> None:
        try:
            try:
                new = await self._open(live=False)
            except OkxWsLoginError as e:
                self._fatal = e
                self._spawn(self._close(old, "login refused on the handover connection"))
                return
            except Exception as e:
                # The old connection serves until the venue closes it; then a normal reconnect.
                self.stats.errors += 1
                log.warning("okx %s: handover connection failed: %r", self.conn_id, e)
                return
            if not new.live:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.handover_timeout_s):
                        await new.acked.wait()
                if not new.live and not new.closed:
                    self._promote(new)
        finally:
            self._handover = None

    def _promote(self, new: _Conn) -> None:
        """Make ``new`` the current connection in one step (no await: no frame slips in)."""
        old = self._current
        self._current = new
        new.live = True
        pending, new.pending = new.pending, []
        for ts, payload in pending:
            self._deliver(ts, payload)
        self.stats.handovers += 1
        if old is not None and old is not new and not old.closed:
            self._record(self._clock(), Kind.CLOSE, b"replaced after notice 64008")
            old.retired = True
            self._spawn(self._close(old, "replaced after notice 64008"))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- recording -----------------------------------------------------------------------

    def _record(self, ts: int, kind: str, payload: bytes) -> None:
        rec = self._recorder
        if rec is not None:
            rec(ts, self.conn_id, kind, payload)


def _login_error(conn_id: str, ev: _EventMsg) -> OkxWsLoginError:
    return OkxWsLoginError(f"okx {conn_id}: login refused: {ev.code} {ev.msg}", code=ev.code)


def _chunks(enc: msgspec.json.Encoder, args: list[Args]) -> list[list[Args]]:
    """Split ``args`` so that each subscribe request stays under ``MAX_SUBSCRIBE_BYTES``."""
    out: list[list[Args]] = []
    cur: list[Args] = []
    size = 0
    for a in args:
        n = len(enc.encode(a)) + 1
        if cur and size + n > MAX_SUBSCRIBE_BYTES:
            out.append(cur)
            cur, size = [], 0
        cur.append(a)
        size += n
    if cur:
        out.append(cur)
    return out


def _reason(task: asyncio.Task[str]) -> str:
    if task.cancelled():
        return "cancelled"
    e = task.exception()
    return f"reader failed: {e!r}" if e is not None else task.result()

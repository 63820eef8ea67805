"""OKX WebSocket client and book feed against a scripted fake OKX on loopback.

The fake (``FakeOkx``) is a small aiohttp server on 127.0.0.1 speaking just enough of the v5
WebSocket protocol (reference §2-§3): text ``ping``/``pong``, ``login``, ``subscribe`` /
``unsubscribe`` acks, a ``books`` snapshot on subscribe then deltas with
``seqId``/``prevSeqId``, and knobs to drop a connection, send a ``notice`` 64008, inject a
sequence gap or a malformed frame. Its REST book (``rest_books``) is an in-process callable.
Every scenario is bounded in time (``asyncio.wait_for``) and in the number of frames.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web

from arb.core.instruments import Instrument
from arb.core.types import Side
from arb.recording import RecordingWriter
from arb.recording import open_recording
from arb.verify import verify_recording
from venues.okx.codec import OkxCodec
from venues.okx.instruments import parse_instruments
from venues.okx.schemas import OkxBookRestDataMsg
from venues.okx.ws import OkxWsClient
from venues.okx.ws import OkxWsLoginError
from venues.okx.ws import _Conn
from venues.okx.ws_book import OkxBookFeed

DATA = Path(__file__).resolve().parent.parent / "data" / "okx"
INST = "BTC-USDT"
KEY = ("okx", "BTC-USDT")
BOOKS_ARG = {"channel": "books", "instId": INST}
SCENARIO_S = 5.0

Rows = dict[str, str]


# -- the fake venue -----------------------------------------------------------------------


class FakeOkx:
    """A scripted OKX v5 WebSocket server (one ``books`` market) plus its REST book."""

    def __init__(self, *, login_ok: bool = True, login_delay_s: float = 0.05) -> None:
        self.login_ok = login_ok
        self.login_delay_s = login_delay_s
        self.answer_ping = True
        self.snapshot_on_subscribe = True
        self.ack_delay_s = 0.0  # before acking a subscribe on a second (or later) connection
        self.log: list[tuple[str, int, str]] = []  # (what, connection number, detail)
        self.conns: dict[int, web.WebSocketResponse] = {}
        self.subscribed: dict[int, set[str]] = {}
        self._n = 0
        self.seq = 100
        self.bids: Rows = {f"{100 - i / 10:.1f}": f"{i + 1}" for i in range(5)}
        self.asks: Rows = {f"{100.1 + i / 10:.1f}": f"{i + 1}" for i in range(5)}
        self.history: dict[int, tuple[Rows, Rows]] = {self.seq: (dict(self.bids), dict(self.asks))}
        self.pushed: list[int] = []  # seqIds of the deltas sent (at least once)
        self.rest_lag = 0  # serve the REST book this many deltas old (once)
        self.rest_calls = 0
        self.app = web.Application()
        self.app.router.add_get("/ws/v5/public", self._ws)
        self.app.router.add_get("/ws/v5/private", self._ws)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        for ws in list(self.conns.values()):
            await ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    def url(self, path: str = "/ws/v5/public") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def events(self, what: str) -> list[tuple[str, int, str]]:
        return [e for e in self.log if e[0] == what]

    # -- WebSocket ---------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._n += 1
        n = self._n
        self.conns[n] = ws
        self.subscribed[n] = set()
        self.log.append(("open", n, request.path))
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    await self._on_text(n, ws, msg.data)
        finally:
            self.conns.pop(n, None)
            self.subscribed.pop(n, None)
            self.log.append(("close", n, ""))
        return ws

    async def _on_text(self, n: int, ws: web.WebSocketResponse, text: str) -> None:
        if text == "ping":
            self.log.append(("ping", n, ""))
            if self.answer_ping:
                await ws.send_str("pong")
            return
        req = msgspec.json.decode(text)
        op = req["op"]
        self.log.append((op, n, text))
        if op == "login":
            await asyncio.sleep(self.login_delay_s)
            if self.login_ok and req["args"][0].get("sign"):
                await self._send(n, {"event": "login", "code": "0", "msg": "", "connId": "c"})
            else:
                await self._send(n, {"event": "error", "code": "60009", "msg": "Login failed."})
            self.log.append(("login-answered", n, ""))
        elif op in ("subscribe", "unsubscribe"):
            if n > 1 and self.ack_delay_s:
                await asyncio.sleep(self.ack_delay_s)
            for arg in req["args"]:
                await self._send(n, {"event": op, "arg": arg, "connId": "c"})
                if arg.get("channel") != "books":
                    continue
                if op == "unsubscribe":
                    self.subscribed[n].discard(arg["instId"])
                    continue
                self.subscribed[n].add(arg["instId"])
                if self.snapshot_on_subscribe:
                    await self._send(n, self._books("snapshot", self.bids, self.asks, -1, self.seq))

    async def _send(self, n: int, obj: Any) -> None:
        ws = self.conns.get(n)
        if ws is not None and not ws.closed:
            await ws.send_str(obj if isinstance(obj, str) else msgspec.json.encode(obj).decode())

    @staticmethod
    def _books(action: str, bids: Rows, asks: Rows, prev: int, seq: int) -> dict[str, Any]:
        rows = (
            [[p, s, "0", "1"] for p, s in bids.items()],
            [[p, s, "0", "1"] for p, s in asks.items()],
        )
        return {
            "arg": BOOKS_ARG,
            "action": action,
            "data": [
                {
                    "bids": rows[0],
                    "asks": rows[1],
                    "ts": "1700000000000",
                    "checksum": 0,
                    "prevSeqId": prev,
                    "seqId": seq,
                }
            ],
        }

    # -- script ------------------------------------------------------------------------------

    def _change(self, rng: random.Random) -> tuple[Rows, Rows]:
        """One random change that keeps the book uncrossed (bids < 100.1 <= asks)."""
        side, book, base, sign = (
            ("bid", self.bids, 100.0, -1) if rng.random() < 0.5 else ("ask", self.asks, 100.1, 1)
        )
        px = f"{base + sign * rng.randrange(0, 8) / 10:.1f}"
        size = (
            "0" if px in book and len(book) > 2 and rng.random() < 0.3 else str(rng.randrange(1, 9))
        )
        if size == "0":
            del book[px]
        else:
            book[px] = size
        return ({px: size}, {}) if side == "bid" else ({}, {px: size})

    async def push_delta(self, rng: random.Random, *, send: bool = True) -> int:
        """Change the book, advance ``seqId`` and send the delta to every subscriber."""
        bids, asks = self._change(rng)
        prev, self.seq = self.seq, self.seq + 1
        self.history[self.seq] = (dict(self.bids), dict(self.asks))
        if send:
            self.pushed.append(self.seq)
            msg = self._books("update", bids, asks, prev, self.seq)
            for n, insts in list(self.subscribed.items()):
                if INST in insts:
                    await self._send(n, msg)
        return self.seq

    async def broadcast_raw(self, text: str) -> None:
        for n in list(self.subscribed):
            await self._send(n, text)

    async def drop(self, n: int) -> None:
        ws = self.conns.get(n)
        if ws is not None:
            await ws.close(code=4004, message=b"No data received in 30s")

    async def notice(self, n: int) -> None:
        await self._send(
            n,
            {
                "event": "notice",
                "code": "64008",
                "msg": "The connection will "
                "soon be closed for a service upgrade. Please reconnect.",
                "connId": "c",
            },
        )

    async def rest_books(self, inst_id: str) -> bytes:
        """``GET /api/v5/market/books`` body (optionally ``rest_lag`` deltas old, once)."""
        self.rest_calls += 1
        await asyncio.sleep(0.02)  # deltas keep coming while the request is in flight
        seq = self.seq - self.rest_lag
        self.rest_lag = 0
        bids, asks = self.history[seq]
        data = {
            "bids": [[p, s, "0", "1"] for p, s in bids.items()],
            "asks": [[p, s, "0", "1"] for p, s in asks.items()],
            "ts": "1700000000000",
            "seqId": seq,
        }
        return msgspec.json.encode({"code": "0", "msg": "", "data": [data]})

    async def rest_books_struct(self, inst_id: str) -> OkxBookRestDataMsg:
        """The same, as ``OkxRestClient.books`` returns it."""
        body = msgspec.json.decode(await self.rest_books(inst_id))
        return msgspec.convert(body["data"][0], OkxBookRestDataMsg)


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def instruments() -> list[Instrument]:
    return parse_instruments((DATA / "rest_instruments.json").read_bytes())


async def until(pred: Callable[[], bool], within_s: float = 2.0) -> None:
    """Wait (bounded) until ``pred()`` holds."""
    deadline = time.monotonic() + within_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within_s} s")
        await asyncio.sleep(0.005)


def run_scenario(
    body: Callable[[FakeOkx], Awaitable[None]], fake: FakeOkx | None = None
) -> FakeOkx:
    fake = fake or FakeOkx()

    async def main() -> None:
        await fake.start()
        try:
            await body(fake)
        finally:
            await fake.stop()

    asyncio.run(asyncio.wait_for(main(), SCENARIO_S))
    return fake


class Stack:
    """Client + feed wired together; ``run`` in a task until ``finish``."""

    def __init__(self, fake: FakeOkx, instruments: list[Instrument], **kw: Any) -> None:
        self.frames: list[bytes] = []
        rest = kw.pop("rest_books", fake.rest_books)
        recorder = kw.pop("recorder", None)
        self.feed = OkxBookFeed(
            OkxCodec(instruments),
            clock_ns=time.time_ns,
            rest_books=rest,
            recorder=recorder,
            resync=kw.pop("resync", "auto"),
        )

        def on_frame(ts: int, payload: bytes) -> None:
            self.frames.append(payload)
            self.feed.on_frame(ts, payload)

        url = kw.pop("url", fake.url())
        opts: dict[str, Any] = {"backoff_s": (0.01, 0.05), "rng": random.Random(7)} | kw
        self.client = OkxWsClient(
            url, clock_ns=time.time_ns, on_frame=on_frame, recorder=recorder, **opts
        )
        self.feed.bind(self.client)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self, args: list[dict[str, str]] | None = None) -> None:
        await self.client.subscribe([BOOKS_ARG] if args is None else args)
        self.task = asyncio.ensure_future(self.client.run(self.stop))

    async def finish(self) -> None:
        self.stop.set()
        assert self.task is not None
        await self.task
        await self.feed.aclose()

    def book_matches(self, fake: FakeOkx) -> bool:
        sync = self.feed.books.get(KEY)
        if sync is None or not sync.valid or sync.seq != fake.seq:
            return False
        bids = {round(p / 10, 1): q for p, q in sync.book.top(Side.BUY, 100)}
        asks = {round(p / 10, 1): q for p, q in sync.book.top(Side.SELL, 100)}
        want_b = {float(p): int(s) * 10**8 for p, s in fake.bids.items()}
        want_a = {float(p): int(s) * 10**8 for p, s in fake.asks.items()}
        return bids == want_b and asks == want_a


def delta_seqs(frames: list[bytes]) -> list[int]:
    out = []
    for f in frames:
        if f.startswith(b'{"arg"') and b'"update"' in f:
            out.append(msgspec.json.decode(f)["data"][0]["seqId"])
    return out


# -- scenarios ------------------------------------------------------------------------------


def test_subscribe_receives_snapshot_and_deltas_into_a_valid_book(instruments):
    rng = random.Random(1)

    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments)
        await s.start()
        await until(lambda: KEY in s.feed.books and s.feed.books[KEY].valid)
        for _ in range(30):
            await fake.push_delta(rng)
        await until(lambda: s.book_matches(fake))
        sync = s.feed.books[KEY]
        sync.book.check()
        await s.finish()
        assert s.feed.stats.gaps == 0
        assert s.feed.stats.decode_errors == 0
        assert sync.stats.applied == 30
        assert s.client.stats.connects == 1
        assert s.client.stats.messages == len(s.frames) == 32  # ack + snapshot + 30 deltas

    fake = run_scenario(body)
    assert [e[0] for e in fake.log if e[1] == 1][:2] == ["open", "subscribe"]


def test_keepalive_sends_text_ping_when_quiet_and_counts_pongs(instruments):
    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments, ping_after_s=0.1)
        await s.start()
        await until(lambda: s.client.stats.pongs >= 2)
        await s.finish()
        assert s.client.stats.pings >= 2
        assert s.client.stats.reconnects == 0
        assert s.feed.books[KEY].valid  # the "pong" frames decode to nothing

    fake = run_scenario(body)
    assert len(fake.events("ping")) >= 2
    assert len(fake.events("open")) == 1


def test_missing_pong_reconnects_and_resubscribes(instruments):
    async def body(fake: FakeOkx) -> None:
        fake.answer_ping = False
        s = Stack(fake, instruments, ping_after_s=0.1, pong_timeout_s=0.1)
        await s.start()
        await until(lambda: s.client.stats.reconnects >= 1 and len(fake.events("open")) >= 2)
        fake.answer_ping = True
        await until(lambda: s.client.connected and s.feed.books[KEY].valid)
        await s.finish()
        assert s.client.stats.errors >= 1

    fake = run_scenario(body)
    assert fake.events("close")[0][1] == 1  # the silent connection was dropped first
    assert len(fake.events("subscribe")) >= 2


def test_reconnect_after_server_drop_resubscribes_and_book_is_valid_again(instruments):
    rng = random.Random(2)

    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments)
        await s.start()
        await until(lambda: s.feed.books.get(KEY) is not None and s.feed.books[KEY].valid)
        for _ in range(5):
            await fake.push_delta(rng)
        await until(lambda: s.book_matches(fake))
        await fake.drop(1)
        await until(lambda: len(fake.events("subscribe")) == 2)
        await until(lambda: s.book_matches(fake))
        for _ in range(5):
            await fake.push_delta(rng)
        await until(lambda: s.book_matches(fake))
        await s.finish()
        assert s.client.stats.reconnects == 1
        assert s.feed.stats.gaps == 0

    fake = run_scenario(body)
    subs = fake.events("subscribe")
    assert [n for _, n, _ in subs] == [1, 2]
    assert msgspec.json.decode(subs[1][2])["args"] == [BOOKS_ARG]


def test_notice_64008_opens_new_connection_before_closing_old_and_loses_nothing(instruments):
    rng = random.Random(3)

    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments)
        await s.start()
        await until(lambda: s.feed.books.get(KEY) is not None and s.feed.books[KEY].valid)
        pushing = True

        async def pusher() -> None:
            # Bursts: the old connection still has deltas in flight when the new one takes over.
            while pushing and len(fake.pushed) < 3000:
                for _ in range(5):
                    await fake.push_delta(rng)
                await asyncio.sleep(0.002)

        task = asyncio.ensure_future(pusher())
        await until(lambda: len(fake.pushed) >= 10)
        fake.ack_delay_s = 0.03  # the old connection keeps serving while the new one is set up
        await fake.notice(1)
        await until(lambda: s.client.stats.handovers == 1 and 1 not in fake.conns)
        n0 = len(fake.pushed)
        await until(lambda: len(fake.pushed) >= n0 + 20)  # and more on the new connection
        pushing = False
        await task
        await until(lambda: s.book_matches(fake))
        await s.finish()
        st = s.client.stats
        assert st.notices == 1
        assert st.reconnects == 0
        assert s.feed.stats.gaps == 0
        assert s.feed.stats.invalidations == 0
        # Nothing lost: every delta was delivered or is inside the new connection's snapshot.
        seen = set(delta_seqs(s.frames))
        snaps = [msgspec.json.decode(f)["data"][0]["seqId"] for f in s.frames if b'"snapshot"' in f]
        assert len(snaps) == 2
        assert all(q in seen or q <= snaps[1] for q in fake.pushed)
        assert any(q > snaps[1] for q in seen)
        # The old connection delivered deltas after the notice, while the new one was set up.
        kinds = [
            b"notice" if b'"notice"' in f else b"ack" if b'"subscribe"' in f else f[:6]
            for f in s.frames
        ]
        between = kinds[kinds.index(b"notice") : len(kinds) - kinds[::-1].index(b"ack")]
        assert between.count(b'{"arg"') >= 3

    fake = run_scenario(body)
    order = [(e[0], e[1]) for e in fake.log if e[0] in ("open", "close")]
    assert order.index(("open", 2)) < order.index(("close", 1))
    assert ("close", 2) not in order[: order.index(("close", 1))]


class StubWs:
    """Stands in for an aiohttp WebSocket in the deterministic handover test."""

    closed = False
    close_code = None

    async def close(self) -> bool:
        self.closed = True
        return True


def test_handover_delivers_held_frames_at_the_ack_and_drops_the_old_connections_later_frames():
    # The switch itself, frame by frame (the live test above cannot force the interleaving).
    got: list[bytes] = []
    d1, d2, d3, d4 = (b'{"arg":{"channel":"books"},"data":[{"seqId":%d}]}' % i for i in range(4))
    early = b'{"arg":{"channel":"trades"},"data":[]}'
    ack = b'{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}'

    async def body() -> None:
        c = OkxWsClient(
            "ws://127.0.0.1:9/ws/v5/public",
            clock_ns=time.time_ns,
            on_frame=lambda ts, p: got.append(p),
        )
        old, new = _Conn(StubWs(), 1, live=True), _Conn(StubWs(), 2, live=False)  # type: ignore[arg-type]
        old.ready = new.ready = True
        new.acks_pending = 1
        c._current = old
        c._conns |= {old, new}
        c._on_message(old, 1, d1)
        c._on_message(new, 2, early)  # held until the new connection is promoted
        c._on_message(old, 3, d2)
        c._on_message(new, 4, ack)  # last ack: promote
        c._on_message(old, 5, d3)  # a duplicate of what the new connection carries: dropped
        c._on_message(new, 6, d4)
        await asyncio.sleep(0)  # let the old connection's close run
        assert c._current is new
        assert old.closed
        assert old.ws.closed
        assert c.stats.handovers == 1
        assert c.stats.dropped_after_handover == 1

    asyncio.run(asyncio.wait_for(body(), SCENARIO_S))
    assert got == [d1, d2, early, ack, d4]


def test_sequence_gap_resyncs_from_rest_snapshot_and_top_is_right(instruments):
    rng = random.Random(4)

    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments, rest_books=fake.rest_books_struct)
        await s.start()
        await until(lambda: s.feed.books.get(KEY) is not None and s.feed.books[KEY].valid)
        for _ in range(5):
            await fake.push_delta(rng)
        await until(lambda: s.book_matches(fake))
        await fake.push_delta(rng, send=False)  # the gap: one delta never sent
        for _ in range(5):
            await fake.push_delta(rng)
            await asyncio.sleep(0.005)  # some arrive while the REST request is in flight
        await until(lambda: s.feed.stats.resyncs == 1)
        await until(lambda: s.book_matches(fake))
        sync = s.feed.books[KEY]
        best_bid = max(fake.bids, key=float)
        assert sync.book.best_bid() == (
            round(float(best_bid) * 10),
            int(fake.bids[best_bid]) * 10**8,
        )
        best_ask = min(fake.asks, key=float)
        assert sync.book.best_ask() == (
            round(float(best_ask) * 10),
            int(fake.asks[best_ask]) * 10**8,
        )
        await s.finish()
        st = s.feed.stats
        assert (st.gaps, st.resyncs, st.resync_failures) == (1, 1, 0)
        assert fake.rest_calls == st.rest_fetches == 1
        assert sync.stats.gaps == 1
        assert sync.stats.buffered >= 1  # deltas buffered during the fetch, then replayed

    run_scenario(body)


def test_stale_rest_snapshot_is_fetched_again(instruments):
    rng = random.Random(5)

    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments)
        await s.start()
        await until(lambda: s.feed.books.get(KEY) is not None and s.feed.books[KEY].valid)
        await fake.push_delta(rng)
        await fake.push_delta(rng, send=False)
        fake.rest_lag = 2  # the first REST answer predates the gap
        await fake.push_delta(rng)
        await until(lambda: s.feed.stats.resyncs == 1)
        await fake.push_delta(rng)
        await until(lambda: s.book_matches(fake))
        await s.finish()
        assert s.feed.stats.stale_rest_snapshots == 1
        assert fake.rest_calls == 2

    run_scenario(body)


def test_gap_resync_by_resubscribe_without_rest(instruments):
    rng = random.Random(6)

    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments, rest_books=None)
        await s.start()
        await until(lambda: s.feed.books.get(KEY) is not None and s.feed.books[KEY].valid)
        await fake.push_delta(rng)
        await fake.push_delta(rng, send=False)
        await fake.push_delta(rng)
        await until(lambda: s.feed.stats.resyncs == 1)
        await fake.push_delta(rng)
        await until(lambda: s.book_matches(fake))
        await s.finish()
        assert s.feed.stats.resubscribes == 1
        assert fake.rest_calls == 0

    fake = run_scenario(body)
    assert [e[0] for e in fake.log if e[0] in ("subscribe", "unsubscribe")] == [
        "subscribe",
        "unsubscribe",
        "subscribe",
    ]


def test_malformed_frames_are_counted_not_fatal(instruments):
    rng = random.Random(8)

    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments)
        await s.start()
        await until(lambda: s.feed.books.get(KEY) is not None and s.feed.books[KEY].valid)
        await fake.push_delta(rng)
        await fake.broadcast_raw('{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[{"as')
        await fake.broadcast_raw(
            '{"arg":{"channel":"books","instId":"BTC-USDT"},'
            '"action":"update","data":[{"asks":[["abc","1","0","1"]]}]}'
        )
        await fake.broadcast_raw("not json at all")
        await fake.push_delta(rng)
        await until(lambda: s.book_matches(fake))
        await s.finish()
        assert s.feed.stats.decode_errors == 3
        assert s.client.stats.reconnects == 0
        assert s.feed.books[KEY].valid

    run_scenario(body)


def test_recording_replays_through_verify_with_no_gap_after_the_resync(instruments, tmp_path):
    rng = random.Random(9)
    out = tmp_path / "rec"
    writer = RecordingWriter(out, source="test_okx_ws")
    writer.add_instrument(next(i for i in instruments if i.venue_symbol == INST))

    def record(ts: int, conn: str, kind: str, payload: bytes) -> None:
        writer.write(ts, "okx", conn, kind, payload)

    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments, recorder=record)
        await s.start()
        await until(lambda: s.feed.books.get(KEY) is not None and s.feed.books[KEY].valid)
        for _ in range(10):
            await fake.push_delta(rng)
        await fake.push_delta(rng, send=False)  # gap
        for _ in range(3):
            await fake.push_delta(rng)
            await asyncio.sleep(0.005)
        await until(lambda: s.feed.stats.resyncs == 1)
        for _ in range(10):
            await fake.push_delta(rng)
        await until(lambda: s.book_matches(fake))
        await s.finish()

    run_scenario(body)
    writer.close()
    rec = open_recording(out)
    frames = list(rec.frames())
    kinds = [f.kind for f in frames]
    assert kinds[:3] == ["+", ">", "<"]
    assert kinds[-1] == "-"
    assert kinds.count("r") == 1
    assert {f.conn for f in frames if f.kind != "r"} == {"/ws/v5/public"}
    report, books, errors = verify_recording(rec)
    assert errors == []
    assert report.errors == 0
    assert report.gaps == 1  # the injected one; none after the REST resync
    assert report.unsynced_books == 0
    (b,) = books
    assert b.synced_at_end
    assert b.stats.snapshots == 2  # the WS snapshot and the REST one


def test_private_login_is_sent_first_and_subscriptions_wait_for_the_login_event(instruments):
    from venues.okx.signer import ws_login_args

    def login() -> dict[str, str]:
        return ws_login_args(
            "test-api-key-0001",
            "Test-Passphrase1",
            "22582BD0CFF14C41EDBF1AB98506286D",
            int(time.time()),
        )

    recorded: list[tuple[str, bytes]] = []

    async def body(fake: FakeOkx) -> None:
        s = Stack(
            fake,
            instruments,
            url=fake.url("/ws/v5/private"),
            login=login,
            recorder=lambda ts, conn, kind, p: recorded.append((kind, p)),
        )
        await s.start([{"channel": "orders", "instType": "ANY"}])
        await until(lambda: len(fake.events("subscribe")) == 1)
        await s.finish()

    fake = run_scenario(body, FakeOkx(login_delay_s=0.1))
    ops = [e[0] for e in fake.log if e[1] == 1]
    assert ops[:4] == ["open", "login", "login-answered", "subscribe"]
    sent = b"".join(p for k, p in recorded if k == ">")
    assert b"Test-Passphrase1" not in sent  # the login op is recorded redacted
    assert b"test-api-key" not in sent


def test_login_error_stops_with_typed_error_and_is_not_retried(instruments):
    def login() -> dict[str, str]:
        return {"apiKey": "k", "passphrase": "p", "timestamp": "1", "sign": ""}

    async def body(fake: FakeOkx) -> None:
        s = Stack(fake, instruments, url=fake.url("/ws/v5/private"), login=login)
        await s.start([{"channel": "orders", "instType": "ANY"}])
        with pytest.raises(OkxWsLoginError) as e:
            await asyncio.wait_for(s.task, 2.0)  # type: ignore[arg-type]
        assert e.value.code == "60009"
        assert e.value.retryable is False

    fake = run_scenario(body, FakeOkx(login_ok=False))
    assert len(fake.events("open")) == 1
    assert fake.events("subscribe") == []

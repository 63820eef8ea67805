"""The sandbox's OKX v5 WebSocket endpoints: ``/ws/v5/public`` and ``/ws/v5/private``.

Public channels: ``books`` (snapshot with ``prevSeqId`` -1, then one update per market tick
with ``prevSeqId``/``seqId``, ``checksum`` 0 as OKX sends since June 2026), ``books5`` and
``bbo-tbt`` (top-N snapshots with ``seqId``), ``trades`` (the market's trades and our own
fills, per tick), ``tickers`` (on subscribe, then on each tick that moved the book or the last
price); on the spot instruments' swap twins (``derived``) ``funding-rate`` (on subscribe, then
every ``FUNDING_PUSH_S``) and ``mark-price`` (on subscribe, then when it changes). Every
public channel needs an ``instId`` the sandbox has (60018 otherwise, as for unknown channels).

Private, after ``login``: ``orders`` (a push per order update: live, each fill with
``fillSz``/``fillPx``/``tradeId``, canceled) and ``account`` (balances, on subscribe and
after each order update); the trading ops ``order``,
``batch-orders``, ``cancel-order``, ``batch-cancel-orders`` and ``amend-order``, taking
``instIdCode`` or ``instId``, share the REST rate limits. The text frame ``ping`` is answered
``pong``. Faults: ``drop_ws_after_msgs`` (with the ``notice`` event 64008 first when
``notice_before_disconnect``) and ``books_seq_gap_after``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
from aiohttp import WSMsgType
from aiohttp import web

from venues.okx.sandbox.accounts import SandboxAccount
from venues.okx.sandbox.auth import AuthFailure
from venues.okx.sandbox.auth import check_login
from venues.okx.sandbox.context import Ctx
from venues.okx.sandbox.context import PublicTrade
from venues.okx.sandbox.derived import funding_row
from venues.okx.sandbox.derived import mark_row
from venues.okx.sandbox.derived import twin_of
from venues.okx.sandbox.market import BookUpdate
from venues.okx.sandbox.rest import ROUTES
from venues.okx.sandbox.rest import Reply
from venues.okx.sandbox.rest import rate_counts
from venues.okx.sandbox.rest import ticker_of
from venues.okx.sandbox.state import Reject

__all__ = ["handle_ws"]

PUBLIC_CHANNELS = {"books": 400, "books5": 5, "bbo-tbt": 1}
SPOT_CHANNELS = frozenset(("trades", "tickers"))
TWIN_CHANNELS = frozenset(("funding-rate", "mark-price"))
PRIVATE_CHANNELS = frozenset(("orders", "account"))
FUNDING_PUSH_S = 30
OPS = {
    "order": "/api/v5/trade/order",
    "batch-orders": "/api/v5/trade/batch-orders",
    "cancel-order": "/api/v5/trade/cancel-order",
    "batch-cancel-orders": "/api/v5/trade/cancel-batch-orders",
    "amend-order": "/api/v5/trade/amend-order",
}
MAX_QUEUE = 10_000
NOTICE = "The connection will soon be closed for a service upgrade. Please reconnect."


def _dumps(obj: Any) -> str:
    return msgspec.json.encode(obj).decode()


class _Conn:
    """One WebSocket connection: its subscriptions, login and outgoing queue."""

    def __init__(self, ctx: Ctx, ws: web.WebSocketResponse, request: web.Request, private: bool):
        self.ctx = ctx
        self.ws = ws
        self.request = request
        self.private = private
        self.conn_id = ctx.conn_id()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.sent = 0
        self.books: dict[tuple[str, str], int] = {}  # (channel, instId) -> updates since a gap
        self.private_subs: dict[str, dict[str, Any]] = {}
        self.subs: dict[tuple[str, str], str] = {}  # (channel, instId) -> last pushed (or "")
        self.account: SandboxAccount | None = None

    def send(self, obj: Any) -> None:
        if self.queue.qsize() >= MAX_QUEUE:
            self.queue.put_nowait(None)  # the client does not read: close (OKX 4005)
            return
        self.queue.put_nowait(obj if isinstance(obj, str) else _dumps(obj))

    def error(self, code: str, msg: str, req_id: str | None = None) -> None:
        e = {"event": "error", "code": code, "msg": msg, "connId": self.conn_id}
        if req_id:
            e["id"] = req_id
        self.send(e)

    # -- pushes -------------------------------------------------------------------------

    def on_books(self, updates: list[BookUpdate]) -> None:
        gap_after = self.ctx.faults.books_seq_gap_after
        for u in updates:
            for channel in PUBLIC_CHANNELS:
                key = (channel, u.inst_id)
                if key not in self.books:
                    continue
                if channel != "books":
                    self._top(channel, u.inst_id)
                    continue
                self.books[key] += 1
                if gap_after > 0 and self.books[key] > gap_after:
                    self.books[key] = 0
                    continue  # this update is lost: the next prevSeqId is not the last seqId
                data = {
                    "asks": u.asks,
                    "bids": u.bids,
                    "ts": str(u.ts_ms),
                    "checksum": 0,
                    "prevSeqId": u.prev_seq,
                    "seqId": u.seq,
                }
                self.send(
                    {
                        "arg": {"channel": "books", "instId": u.inst_id},
                        "action": "update",
                        "data": [data],
                    }
                )

    def on_tick(self, trades: list[PublicTrade], changed: set[str]) -> None:
        if not self.subs:
            return
        by_inst: dict[str, list[dict[str, str]]] = {}
        for t in trades:
            if ("trades", t.inst_id) in self.subs:
                by_inst.setdefault(t.inst_id, []).append(
                    {"instId": t.inst_id, "tradeId": t.trade_id, "px": t.px, "sz": t.sz,
                     "side": t.side, "ts": str(t.ts_ms), "count": "1"}
                )  # fmt: skip
        for inst_id, rows in by_inst.items():
            self.send({"arg": {"channel": "trades", "instId": inst_id}, "data": rows})
        for inst_id in changed:
            if ("tickers", inst_id) in self.subs:
                self._push_twin_or_ticker("tickers", inst_id)
        now_ms = self.ctx.now_ms()
        for (channel, inst_id), last in list(self.subs.items()):
            if channel == "mark-price" or (
                channel == "funding-rate" and now_ms - int(last) >= FUNDING_PUSH_S * 1000
            ):
                self._push_twin_or_ticker(channel, inst_id)

    def _push_twin_or_ticker(self, channel: str, inst_id: str, *, force: bool = False) -> None:
        # tickers: always; mark-price: when markPx changed (or force); funding-rate: always,
        # remembering when (the caller paces it).
        if channel == "tickers":
            data = ticker_of(self.ctx, inst_id)
        else:
            spot = twin_of(self.ctx, inst_id)
            assert spot is not None  # noqa: S101 - checked at subscribe
            if channel == "funding-rate":
                data = funding_row(self.ctx, spot)
                self.subs[(channel, inst_id)] = str(self.ctx.now_ms())
            else:
                data = mark_row(self.ctx, spot)
                if not force and self.subs[(channel, inst_id)] == data["markPx"]:
                    return
                self.subs[(channel, inst_id)] = data["markPx"]
        self.send({"arg": {"channel": channel, "instId": inst_id}, "data": [data]})

    def _snapshot(self, inst_id: str) -> None:
        bids, asks, seq, ts = self.ctx.books.snapshot(inst_id, PUBLIC_CHANNELS["books"])
        data = {
            "asks": asks,
            "bids": bids,
            "ts": str(ts or self.ctx.now_ms()),
            "checksum": 0,
            "prevSeqId": -1,
            "seqId": seq,
        }
        self.send(
            {"arg": {"channel": "books", "instId": inst_id}, "action": "snapshot", "data": [data]}
        )

    def _top(self, channel: str, inst_id: str) -> None:
        bids, asks, seq, ts = self.ctx.books.snapshot(inst_id, PUBLIC_CHANNELS[channel])
        data: dict[str, Any] = {
            "asks": asks,
            "bids": bids,
            "ts": str(ts or self.ctx.now_ms()),
            "seqId": seq,
        }
        if channel == "books5":
            data["instId"] = inst_id
        self.send({"arg": {"channel": channel, "instId": inst_id}, "data": [data]})

    def on_private(self, channel: str, data: list[dict[str, Any]]) -> None:
        sub = self.private_subs.get("orders")
        if sub is not None:
            rows = [d for d in data if _matches(sub, d)]
            if rows:
                self.send({"arg": sub, "data": rows})
        if "account" in self.private_subs:
            self._account()

    def _account(self) -> None:
        assert self.account is not None  # noqa: S101 - subscribed after login only
        details = self.ctx.exchange.balance_details(self.account.api_key)
        data = {"details": details, "totalEq": "", "uTime": str(self.ctx.now_ms())}
        self.send({"arg": self.private_subs["account"], "data": [data]})

    # -- requests -----------------------------------------------------------------------

    def handle(self, text: str) -> None:
        if text == "ping":
            self.send("pong")
            return
        try:
            msg = msgspec.json.decode(text)
        except msgspec.DecodeError:
            self.error("60012", f"Invalid request: {text[:200]}")
            return
        if not isinstance(msg, dict):
            self.error("60012", f"Invalid request: {text[:200]}")
            return
        op, req_id = msg.get("op"), msg.get("id")
        args = msg.get("args")
        if not isinstance(args, list) or not all(isinstance(a, dict) for a in args):
            self.error("60012", f"Invalid request: {text[:200]}", req_id)
        elif op == "login":
            self._login(args)
        elif op in ("subscribe", "unsubscribe"):
            for arg in args:
                self._subscribe(str(op), arg, req_id)
        elif op in OPS and self.private:
            self._trade(str(op), args, req_id)
        else:
            self.error("60019", f"Invalid op: {op}", req_id)

    def _login(self, args: list[dict[str, Any]]) -> None:
        if len(args) != 1:
            self.error("60012", "Invalid request: login takes one arg")
            return
        try:
            account = check_login(args[0], self.ctx.accounts, self.ctx.now_ms())
        except AuthFailure as e:
            self.error(e.code, e.msg)
            return
        if self.account is None:
            self.account = account
            self.ctx.exchange.accounts[account.api_key].listeners.append(self.on_private)
        self.send({"event": "login", "code": "0", "msg": "", "connId": self.conn_id})

    def _subscribe(self, op: str, arg: dict[str, Any], req_id: str | None) -> None:
        channel, inst_id = str(arg.get("channel", "")), str(arg.get("instId", ""))
        ok = (not self.private and self._public_ok(channel, inst_id)) or (
            channel in PRIVATE_CHANNELS and self.private
        )
        if not ok:
            self.error(
                "60018", f"Wrong URL or channel:{channel},instId:{inst_id} doesn't exist.", req_id
            )
            return
        if channel in PRIVATE_CHANNELS and self.account is None:
            self.error("60011", "Please log in", req_id)
            return
        if channel == "orders" and not arg.get("instType"):
            self.error("60013", "Invalid args", req_id)
            return
        ack: dict[str, Any] = {"event": op, "arg": arg, "connId": self.conn_id}
        if req_id:
            ack["id"] = req_id
        self.send(ack)
        if channel in PRIVATE_CHANNELS:
            self._private_sub(op, channel, arg)
        elif channel in SPOT_CHANNELS or channel in TWIN_CHANNELS:
            self._sub(op, channel, inst_id)
        elif op == "unsubscribe":
            self.books.pop((channel, inst_id), None)
        else:
            self.books[(channel, inst_id)] = 0
            if channel == "books":
                self._snapshot(inst_id)
            else:
                self._top(channel, inst_id)

    def _public_ok(self, channel: str, inst_id: str) -> bool:
        if channel in PUBLIC_CHANNELS:
            return self.ctx.books.has(inst_id)
        if channel in SPOT_CHANNELS:
            return inst_id in self.ctx.exchange.instruments
        return channel in TWIN_CHANNELS and twin_of(self.ctx, inst_id) is not None

    def _sub(self, op: str, channel: str, inst_id: str) -> None:
        if op == "unsubscribe":
            self.subs.pop((channel, inst_id), None)
            return
        self.subs[(channel, inst_id)] = ""
        if channel != "trades":
            self._push_twin_or_ticker(channel, inst_id, force=True)

    def _private_sub(self, op: str, channel: str, arg: dict[str, Any]) -> None:
        if op == "unsubscribe":
            self.private_subs.pop(channel, None)
            return
        assert self.account is not None  # noqa: S101 - checked by the caller
        uid = self.ctx.exchange.accounts[self.account.api_key].uid
        self.private_subs[channel] = {**arg, "uid": uid}
        if channel == "account":
            self._account()

    def _trade(self, op: str, args: list[dict[str, Any]], req_id: str | None) -> None:
        in_us = self.ctx.clock() // 1_000
        if self.account is None:
            self.error("60011", "Please log in", req_id)
            return
        if not req_id:
            self.error("60013", "Invalid args")
            return
        codes = {10_000 + n: i for n, i in enumerate(self.ctx.exchange.instruments)}
        args = [_with_inst_id(a, codes) for a in args]
        path = OPS[op]
        route = ROUTES[("POST", path)]
        params: Any = args if op.startswith("batch") else (args[0] if args else {})
        code = self.ctx.limiter.allow(
            "POST",
            path,
            ip=self.request.remote or "",
            uid=self.account.api_key,
            counts=rate_counts(route, params),
            now_ns=self.ctx.clock(),
        )
        if code:
            reply = Reply([], code=code, msg="Too Many Requests")
        else:
            try:
                reply = route.fn(self.ctx, self.account, params)
            except Reject as e:
                reply = Reply([], code=e.code, msg=e.msg)
        answer = {
            "id": req_id,
            "op": op,
            "code": reply.code,
            "msg": reply.msg,
            "data": reply.data,
            "inTime": str(in_us),
            "outTime": str(self.ctx.clock() // 1_000),
        }
        delay = self.ctx.faults.ack_delay_ms
        if delay > 0:  # the answer is late; order pushes are not
            asyncio.get_running_loop().call_later(delay / 1000, self.send, answer)
        else:
            self.send(answer)

    # -- lifecycle ----------------------------------------------------------------------

    async def write_loop(self) -> None:
        faults = self.ctx.faults
        while True:
            text = await self.queue.get()
            if text is None:
                await self.ws.close(code=4005, message=b"Buffer full")
                return
            await self.ws.send_str(text)
            self.sent += 1
            if 0 < faults.drop_ws_after_msgs <= self.sent:
                await self._drop()
                return

    async def _drop(self) -> None:
        if self.ctx.faults.notice_before_disconnect:
            await self.ws.send_str(
                _dumps({"event": "notice", "code": "64008", "msg": NOTICE, "connId": self.conn_id})
            )
        transport = self.request.transport
        if transport is not None:
            transport.abort()  # the connection drops: no close frame
        else:
            await self.ws.close()

    def detach(self) -> None:
        self.ctx.book_sinks.discard(self)
        if self.account is not None:
            listeners = self.ctx.exchange.accounts[self.account.api_key].listeners
            with contextlib.suppress(ValueError):
                listeners.remove(self.on_private)


def _matches(sub: dict[str, Any], order: dict[str, Any]) -> bool:
    if sub.get("instType") not in ("ANY", "SPOT"):
        return False
    return not sub.get("instId") or sub["instId"] == order["instId"]


def _with_inst_id(arg: dict[str, Any], codes: dict[int, str]) -> dict[str, Any]:
    code = arg.get("instIdCode")
    if code is None:
        return arg
    try:
        return {**arg, "instId": codes.get(int(code), "")}
    except (TypeError, ValueError):
        return {**arg, "instId": ""}


async def handle_ws(ctx: Ctx, request: web.Request, *, private: bool) -> web.WebSocketResponse:
    """Serve one WebSocket connection until the client or a fault closes it."""
    ctx.requests.append((request.method, request.path))
    ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    conn = _Conn(ctx, ws, request, private)
    if not private:
        ctx.book_sinks.add(conn)
    writer = asyncio.create_task(conn.write_loop())
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                conn.handle(msg.data)
            elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
            if writer.done():
                break
    finally:
        conn.detach()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await writer
    return ws

"""The sandbox's OKX v5 REST endpoints.

Every answer is OKX's envelope ``{"code":"0","msg":"","data":[...]}`` with numbers as strings;
trade endpoints add ``inTime``/``outTime`` (µs). Per-item results carry ``sCode``/``sMsg``;
the top-level ``code`` is ``"1"`` when every item failed and ``"2"`` when some did.

Before an endpoint runs, ``dispatch`` applies, in order: the ``rate_limit_burst`` fault
(50011, HTTP 429), the route (HTTP 404), ``Content-Type: application/json`` on POST (50006),
authentication of private endpoints (``auth.check_rest``, HTTP 401), the body (50000 empty,
50002 not JSON) and the documented rate limits (50011 / 50061, HTTP 429).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from venues.okx.sandbox import derived
from venues.okx.sandbox.accounts import SandboxAccount
from venues.okx.sandbox.auth import AuthFailure
from venues.okx.sandbox.auth import check_rest
from venues.okx.sandbox.context import Ctx
from venues.okx.sandbox.market import trim
from venues.okx.sandbox.state import FEE_MAKER
from venues.okx.sandbox.state import FEE_TAKER
from venues.okx.sandbox.state import Order
from venues.okx.sandbox.state import Reject

__all__ = ["ROUTES", "Reply", "dispatch", "rate_counts", "ticker_of"]

INST_TYPES = frozenset(("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"))
MAX_BATCH = 20
Params = Any  # query dict (GET) or decoded JSON body (POST)


class Reply(msgspec.Struct):
    data: list[Any]
    code: str = "0"
    msg: str = ""
    status: int = 200
    trade: bool = False


Handler = Callable[[Ctx, SandboxAccount | None, Params], Reply]


@dataclass(frozen=True)
class Route:
    fn: Handler
    private: bool
    count_key: str = ""  # rate-limit rule value taken from the params ("instId", "instType")


def _need(params: dict[str, str], name: str) -> str:
    v = params.get(name, "")
    if not v:
        raise Reject("50014", f"Parameter {name} can not be empty")
    return v


# -- public --------------------------------------------------------------------------------


def _time(ctx: Ctx, _: SandboxAccount | None, p: Params) -> Reply:
    return Reply([{"ts": str(ctx.now_ms())}])


def _instruments(ctx: Ctx, _: SandboxAccount | None, p: Params) -> Reply:
    inst_type = _need(p, "instType")
    if inst_type not in INST_TYPES:
        raise Reject("51000", "Parameter instType error")
    if inst_type == "OPTION" and not (p.get("instFamily") or p.get("uly")):
        raise Reject("50014", "Parameter instFamily can not be empty")
    if inst_type != "SPOT":
        return Reply([])
    out = []
    for n, inst in enumerate(ctx.exchange.instruments.values()):
        if p.get("instId") and p["instId"] != inst.venue_symbol:
            continue
        out.append(
            {
                "instType": "SPOT",
                "instId": inst.venue_symbol,
                "instIdCode": 10_000 + n,
                "uly": "",
                "instFamily": "",
                "category": "1",
                "baseCcy": inst.base,
                "quoteCcy": inst.quote,
                "settleCcy": "",
                "ctVal": "",
                "ctMult": "",
                "ctValCcy": "",
                "ctType": "",
                "optType": "",
                "stk": "",
                "listTime": "1548133413000",
                "auctionEndTime": "",
                "expTime": "",
                "lever": "",
                "tickSz": trim(inst.tick_size),
                "lotSz": trim(inst.lot_size),
                "minSz": trim(inst.min_size),
                "alias": "",
                "maxLmtSz": "9999999999",
                "maxMktSz": "1000000",
                "maxLmtAmt": "20000000",
                "maxMktAmt": "1000000",
                "maxTwapSz": "9999999999",
                "maxIcebergSz": "9999999999",
                "maxTriggerSz": "9999999999",
                "maxStopSz": "1000000",
                "state": "live",
                "ruleType": "normal",
                "groupId": "1",
                "tradeQuoteCcyList": [inst.quote],
                "contTdSwTime": "",
                "openType": "",
                "preMktSwTime": "",
                "futureSettlement": False,
                "upcChg": [],
            }
        )
    return Reply(out)


def _books(ctx: Ctx, _: SandboxAccount | None, p: Params) -> Reply:
    inst_id = _need(p, "instId")
    if not ctx.books.has(inst_id):
        raise Reject("51001", "Instrument ID does not exist.")
    try:
        depth = int(p.get("sz", "1"))
    except ValueError as e:
        raise Reject("51000", "Parameter sz error") from e
    if not 1 <= depth <= 400:
        raise Reject("51000", "Parameter sz error")
    bids, asks, seq, ts = ctx.books.snapshot(inst_id, depth)
    return Reply([{"asks": asks, "bids": bids, "ts": str(ts or ctx.now_ms()), "seqId": seq}])


def ticker_of(ctx: Ctx, inst_id: str) -> dict[str, str]:
    inst = ctx.exchange.instruments[inst_id]
    bids, asks, _, ts = ctx.books.snapshot(inst_id, 1)
    bid, ask = (bids[0] if bids else ["", ""]), (asks[0] if asks else ["", ""])
    last_raw = ctx.exchange.last_px.get(inst.symbol)
    last = trim(inst.px_str(last_raw)) if last_raw is not None else bid[0]
    return {
        "instType": "SPOT",
        "instId": inst_id,
        "last": last,
        "lastSz": "0",
        "askPx": ask[0],
        "askSz": ask[1],
        "bidPx": bid[0],
        "bidSz": bid[1],
        "open24h": last,
        "high24h": last,
        "low24h": last,
        "volCcy24h": "0",
        "vol24h": "0",
        "sodUtc0": last,
        "sodUtc8": last,
        "ts": str(ts or ctx.now_ms()),
    }


def _tickers(ctx: Ctx, _: SandboxAccount | None, p: Params) -> Reply:
    inst_type = _need(p, "instType")
    if inst_type not in INST_TYPES:
        raise Reject("51000", "Parameter instType error")
    ids = list(ctx.exchange.instruments) if inst_type == "SPOT" else []
    return Reply([ticker_of(ctx, i) for i in ids])


def _ticker(ctx: Ctx, _: SandboxAccount | None, p: Params) -> Reply:
    inst_id = _need(p, "instId")
    if inst_id not in ctx.exchange.instruments:
        raise Reject("51001", "Instrument ID does not exist.")
    return Reply([ticker_of(ctx, inst_id)])


# -- account -------------------------------------------------------------------------------


def _balance(ctx: Ctx, acct: SandboxAccount | None, p: Params) -> Reply:
    assert acct is not None  # noqa: S101 - private route
    details = ctx.exchange.balance_details(acct.api_key)
    if p.get("ccy"):
        wanted = set(p["ccy"].split(","))
        details = [d for d in details if d["ccy"] in wanted]
    usd = sum(float(d["eq"]) for d in details if d["ccy"] in ("USDT", "USDC", "USD"))
    return Reply(
        [
            {
                "adjEq": "",
                "availEq": "",
                "borrowFroz": "",
                "details": details,
                "imr": "",
                "isoEq": "",
                "mgnRatio": "",
                "mmr": "",
                "notionalUsd": "",
                "ordFroz": "",
                "totalEq": f"{usd:f}",
                "uTime": str(ctx.now_ms()),
                "upl": "",
            }
        ]
    )


def _config(ctx: Ctx, acct: SandboxAccount | None, p: Params) -> Reply:
    assert acct is not None  # noqa: S101 - private route
    uid = ctx.exchange.accounts[acct.api_key].uid
    return Reply(
        [
            {
                "uid": uid,
                "mainUid": uid,
                "acctLv": "1",
                "acctStpMode": "cancel_maker",
                "posMode": "net_mode",
                "autoLoan": False,
                "greeksType": "PA",
                "level": "Lv1",
                "levelTmp": "",
                "ctIsoMode": "automatic",
                "mgnIsoMode": "automatic",
                "roleType": "0",
                "traderInsts": [],
                "spotRoleType": "0",
                "spotTraderInsts": [],
                "opAuth": "0",
                "kycLv": "2",
                "label": "sandbox",
                "ip": acct.ip,
                "perm": acct.perm,
                "type": "0",
                "liquidationGear": "-1",
                "enableSpotBorrow": False,
                "spotBorrowAutoRepay": False,
                "feeType": "0",
                "settleCcy": "USDT",
                "settleCcyList": ["USDT"],
            }
        ]
    )


def _trade_fee(ctx: Ctx, _: SandboxAccount | None, p: Params) -> Reply:
    inst_type = _need(p, "instType")
    if inst_type not in INST_TYPES:
        raise Reject("51000", "Parameter instType error")
    return Reply(
        [
            {
                "category": "1",
                "delivery": "",
                "exercise": "",
                "instType": inst_type,
                "level": "Lv1",
                "maker": FEE_MAKER,
                "taker": FEE_TAKER,
                "makerU": "",
                "takerU": "",
                "makerUSDC": "",
                "takerUSDC": "",
                "ruleType": "normal",
                "ts": str(ctx.now_ms()),
                "fiat": [],
                "feeGroup": [{"taker": FEE_TAKER, "maker": FEE_MAKER, "groupId": "1"}],
            }
        ]
    )


def _currencies(ctx: Ctx, _: SandboxAccount | None, p: Params) -> Reply:
    ccys = sorted({c for i in ctx.exchange.instruments.values() for c in (i.base, i.quote)})
    return Reply(
        [
            {
                "ccy": c,
                "name": c,
                "chain": f"{c}-{c}",
                "canDep": True,
                "canWd": True,
                "canInternal": True,
                "minDep": "0",
                "minWd": "0",
                "maxWd": "0",
                "wdTickSz": "8",
                "wdQuota": "0",
                "usedWdQuota": "0",
                "minFee": "0",
                "maxFee": "0",
                "fee": "0",
                "mainNet": True,
                "needTag": False,
                "minDepArrivalConfirm": "1",
                "minWdUnlockConfirm": "1",
                "logoLink": "",
                "burningFeeRate": "",
                "ctAddr": "",
            }
            for c in ccys
        ]
    )


# -- trade ---------------------------------------------------------------------------------


def _item(o: Order | None, req: dict[str, Any], now_ms: int, e: Reject | None) -> dict[str, Any]:
    return {
        "clOrdId": o.cl_ord_id if o else str(req.get("clOrdId", "")),
        "ordId": o.ord_id if o else str(req.get("ordId", "")),
        "tag": o.tag if o else str(req.get("tag", "")),
        "ts": str(now_ms),
        "sCode": e.code if e else "0",
        "sMsg": e.msg if e else "Order placed",
        "subCode": "",
    }


def _each(ctx: Ctx, acct: SandboxAccount | None, reqs: Any, op: str, batch: bool) -> Reply:
    assert acct is not None  # noqa: S101 - private route
    items = reqs if batch else [reqs]
    if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
        raise Reject("50002", "Json data format error")
    if batch and not 1 <= len(items) <= MAX_BATCH:
        raise Reject("51000", "Parameter array length error")
    ex = ctx.exchange
    fn = {"place": ex.place, "cancel": ex.cancel, "amend": ex.amend}[op]
    data: list[Any] = []
    for req in items:
        try:
            o, err = fn(acct.api_key, req), None
        except Reject as e:
            o, err = None, e
        item = _item(o, req, ctx.now_ms(), err)
        if op != "place":
            item["sMsg"] = err.msg if err else ""
        if op == "amend":
            item["reqId"] = str(req.get("reqId", ""))
        data.append(item)
    failed = sum(d["sCode"] != "0" for d in data)
    code = "0" if not failed else ("1" if failed == len(data) else "2")
    msg = {"0": "", "1": "All operations failed", "2": "Bulk operation partially succeeded"}
    return Reply(data, code=code, msg=msg[code], trade=True)


def _get_order(ctx: Ctx, acct: SandboxAccount | None, p: Params) -> Reply:
    assert acct is not None  # noqa: S101 - private route
    inst_id = _need(p, "instId")
    ord_id, cid = p.get("ordId", ""), p.get("clOrdId", "")
    if not ord_id and not cid:
        raise Reject("50014", "Parameter ordId can not be empty")
    ex = ctx.exchange
    o = (
        ex.accounts[acct.api_key].orders.get(ord_id)
        if ord_id
        else ex.by_client_id(acct.api_key, cid)
    )
    if o is None or o.inst.venue_symbol != inst_id:
        raise Reject("51603", "Order does not exist")
    return Reply([o.to_okx()])


def _orders(ctx: Ctx, acct: SandboxAccount | None, p: Params, *, pending: bool) -> Reply:
    assert acct is not None  # noqa: S101 - private route
    if not pending:
        _need(p, "instType")
    out = []
    for o in reversed(ctx.exchange.accounts[acct.api_key].orders.values()):
        if o.open != pending or (p.get("instId") and p["instId"] != o.inst.venue_symbol):
            continue
        if p.get("ordType") and p["ordType"] != o.ord_type:
            continue
        if p.get("state") and p["state"] != o.state:
            continue
        if p.get("instType") and p["instType"] != "SPOT":
            continue
        out.append(o.to_okx())
    return Reply(out[: _limit(p)])


def _fills(ctx: Ctx, acct: SandboxAccount | None, p: Params, *, history: bool) -> Reply:
    assert acct is not None  # noqa: S101 - private route
    if history:
        _need(p, "instType")
    out = []
    for f in reversed(ctx.exchange.fills):
        if f["_key"] != acct.api_key:
            continue
        if any(p.get(k) and p[k] != f[k] for k in ("instId", "ordId", "instType")):
            continue
        out.append({k: v for k, v in f.items() if k != "_key"})
    return Reply(out[: _limit(p)])


def _limit(p: dict[str, str]) -> int:
    try:
        n = int(p.get("limit", "100"))
    except ValueError as e:
        raise Reject("51000", "Parameter limit error") from e
    return max(1, min(n, 100))


def _bills(ctx: Ctx, acct: SandboxAccount | None, p: Params) -> Reply:
    assert acct is not None  # noqa: S101 - private route
    return Reply(derived.bills(ctx, acct.api_key, p))


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v5/public/time"): Route(_time, False),
    ("GET", "/api/v5/public/instruments"): Route(_instruments, False, "instType"),
    ("GET", "/api/v5/market/books"): Route(_books, False),
    ("GET", "/api/v5/market/tickers"): Route(_tickers, False),
    ("GET", "/api/v5/market/ticker"): Route(_ticker, False),
    ("GET", "/api/v5/market/candles"): Route(lambda c, a, p: Reply(derived.candles(c, p)), False),
    ("GET", "/api/v5/public/funding-rate"): Route(
        lambda c, a, p: Reply(derived.funding_rate(c, p)), False, "instId"
    ),
    ("GET", "/api/v5/public/mark-price"): Route(
        lambda c, a, p: Reply(derived.mark_price(c, p, INST_TYPES)), False, "instId"
    ),
    ("GET", "/api/v5/account/bills"): Route(_bills, True),
    ("GET", "/api/v5/account/balance"): Route(_balance, True),
    ("GET", "/api/v5/account/config"): Route(_config, True),
    ("GET", "/api/v5/account/trade-fee"): Route(_trade_fee, True),
    ("GET", "/api/v5/asset/currencies"): Route(_currencies, True),
    ("POST", "/api/v5/trade/order"): Route(
        lambda c, a, p: _each(c, a, p, "place", False), True, "instId"
    ),
    ("POST", "/api/v5/trade/batch-orders"): Route(
        lambda c, a, p: _each(c, a, p, "place", True), True, "instId"
    ),
    ("POST", "/api/v5/trade/cancel-order"): Route(
        lambda c, a, p: _each(c, a, p, "cancel", False), True, "instId"
    ),
    ("POST", "/api/v5/trade/cancel-batch-orders"): Route(
        lambda c, a, p: _each(c, a, p, "cancel", True), True, "instId"
    ),
    ("POST", "/api/v5/trade/amend-order"): Route(
        lambda c, a, p: _each(c, a, p, "amend", False), True, "instId"
    ),
    ("GET", "/api/v5/trade/order"): Route(_get_order, True, "instId"),
    ("GET", "/api/v5/trade/orders-pending"): Route(
        lambda c, a, p: _orders(c, a, p, pending=True), True
    ),
    ("GET", "/api/v5/trade/orders-history"): Route(
        lambda c, a, p: _orders(c, a, p, pending=False), True
    ),
    ("GET", "/api/v5/trade/fills"): Route(lambda c, a, p: _fills(c, a, p, history=False), True),
    ("GET", "/api/v5/trade/fills-history"): Route(
        lambda c, a, p: _fills(c, a, p, history=True), True
    ),
}


def _envelope(r: Reply, in_us: int, ctx: Ctx) -> web.Response:
    body: dict[str, Any] = {"code": r.code, "msg": r.msg, "data": r.data}
    if r.trade:
        body["inTime"] = str(in_us)
        body["outTime"] = str(ctx.clock() // 1_000)
    return web.Response(
        body=msgspec.json.encode(body), status=r.status, content_type="application/json"
    )


def _error(code: str, msg: str, status: int = 200) -> Reply:
    return Reply([], code=code, msg=msg, status=status)


def rate_counts(route: Route, params: Any) -> dict[str, int]:
    if not route.count_key:
        return {"": 1}
    items = params if isinstance(params, list) else [params]
    return dict(Counter(str(i.get(route.count_key, "")) for i in items if isinstance(i, dict)))


async def dispatch(ctx: Ctx, request: web.Request) -> web.Response:
    """Answer one REST request as OKX would (see the module doc for the order of checks)."""
    in_us = ctx.clock() // 1_000
    ctx.requests.append((request.method, request.path))
    reply = await _checked(ctx, request)
    if reply.trade and ctx.faults.ack_delay_ms > 0:
        await asyncio.sleep(ctx.faults.ack_delay_ms / 1000)
    return _envelope(reply, in_us, ctx)


async def _checked(ctx: Ctx, request: web.Request) -> Reply:
    if ctx.faults.rate_limit_burst > 0:
        ctx.faults.rate_limit_burst -= 1
        return _error("50011", "Too Many Requests", 429)
    route = ROUTES.get((request.method, request.path))
    if route is None:
        return _error("50000" if request.method == "POST" else "404", "Not Found", 404)
    post = request.method == "POST"
    if post and request.content_type != "application/json":
        return _error("50006", "Invalid Content-Type, please use application/json format")
    body = await request.text() if post else ""
    acct = None
    if route.private:
        try:
            acct = check_rest(
                request.headers,
                request.method,
                request.raw_path,
                body,
                ctx.accounts,
                ctx.now_ms(),
                request.remote or "",
            )
        except AuthFailure as e:
            return _error(e.code, e.msg, e.status)
    if post:
        if not body.strip():
            return _error("50000", "Body can not be empty")
        try:
            params: Any = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return _error("50002", "Json data format error")
    else:
        params = dict(request.query)
    uid = acct.api_key if acct else ""
    code = ctx.limiter.allow(
        request.method,
        request.path,
        ip=request.remote or "",
        uid=uid,
        counts=rate_counts(route, params),
        now_ns=ctx.clock(),
    )
    if code:
        msg = "Too Many Requests" if code == "50011" else "Sub-account rate limit exceeded"
        return _error(code, msg, 429)
    try:
        return route.fn(ctx, acct, params)
    except Reject as e:
        return _error(e.code, e.msg)

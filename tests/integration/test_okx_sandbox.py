"""The OKX sandbox's own rules: authentication, rate limits, order checks, WebSocket, faults.

Pure checks (signature, timestamps, token buckets) run on fixed times; server checks start a
sandbox on an ephemeral loopback port, with a frozen clock where timing would make them flaky.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest

from tests.integration._okx_helpers import run
from tests.integration._okx_helpers import signed_headers
from tests.integration._okx_helpers import ws_login_args
from venues.okx.sandbox import DEFAULT_ACCOUNT
from venues.okx.sandbox import Faults
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import SandboxAccount
from venues.okx.sandbox import load_accounts
from venues.okx.sandbox import start_sandbox
from venues.okx.sandbox.auth import AuthFailure
from venues.okx.sandbox.auth import RateLimiter
from venues.okx.sandbox.auth import check_login
from venues.okx.sandbox.auth import check_rest
from venues.okx.sandbox.auth import expected_sign

pytestmark = pytest.mark.integration

# Reference vectors (../shared/reference/okx-v5.md §9).
REF = SandboxAccount(
    api_key="test-api-key-0001",
    secret="22582BD0CFF14C41EDBF1AB98506286D",  # noqa: S106 - the OKX docs' example key
    passphrase="Test-Passphrase1",  # noqa: S106
    balances={},
)
REF_TS = "2020-12-08T09:08:57.715Z"
REF_MS = 1607418537715
R1_PATH = "/api/v5/account/balance?ccy=BTC"
R1_SIGN = "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
R3_BODY = (
    '{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"b15","side":"buy","ordType":"limit",'
    '"px":"2.15","sz":"2"}'
)
R3_SIGN = "dI6rrL9rXW/HdaPKJ/6LC1OgvH4/PYju6R3CqixMTNQ="
A = DEFAULT_ACCOUNT


def _ref_headers(**over: str) -> dict[str, str]:
    h = {
        "OK-ACCESS-KEY": REF.api_key,
        "OK-ACCESS-SIGN": R1_SIGN,
        "OK-ACCESS-TIMESTAMP": REF_TS,
        "OK-ACCESS-PASSPHRASE": REF.passphrase,
    }
    h.update(over)
    return h


def _check(headers: dict[str, str], now_ms: int = REF_MS, path: str = R1_PATH, **kw: Any) -> str:
    accounts = {REF.api_key: kw.pop("account", REF)}
    try:
        check_rest(
            headers,
            kw.pop("method", "GET"),
            path,
            kw.pop("body", ""),
            accounts,
            now_ms,
            kw.pop("remote", "127.0.0.1"),
        )
    except AuthFailure as e:
        return e.code
    return "0"


# -- signatures and timestamps (pure) ------------------------------------------------------


def test_expected_sign_matches_the_reference_vectors():
    assert expected_sign(REF.secret, REF_TS + "GET" + R1_PATH) == R1_SIGN
    assert expected_sign(REF.secret, REF_TS + "POST/api/v5/trade/order" + R3_BODY) == R3_SIGN
    ws = expected_sign(REF.secret, "1538054050GET/users/self/verify")
    assert ws == "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="


def test_check_rest_accepts_the_reference_requests():
    assert _check(_ref_headers()) == "0"
    post = _ref_headers(**{"OK-ACCESS-SIGN": R3_SIGN})
    assert _check(post, path="/api/v5/trade/order", method="POST", body=R3_BODY) == "0"


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"OK-ACCESS-KEY": ""}, "50103"),
        ({"OK-ACCESS-KEY": "unknown"}, "50111"),
        ({"OK-ACCESS-PASSPHRASE": ""}, "50104"),
        ({"OK-ACCESS-PASSPHRASE": "wrong"}, "50105"),
        ({"OK-ACCESS-TIMESTAMP": ""}, "50107"),
        ({"OK-ACCESS-TIMESTAMP": "2020-12-08 09:08:57.715Z"}, "50112"),
        ({"OK-ACCESS-TIMESTAMP": "2020-12-08T09:08:57Z"}, "50112"),
        ({"OK-ACCESS-TIMESTAMP": str(REF_MS)}, "50102"),  # Unix ms: what OKX answers
        ({"OK-ACCESS-SIGN": ""}, "50106"),
        ({"OK-ACCESS-SIGN": R3_SIGN}, "50113"),
    ],
)
def test_check_rest_refuses_with_okx_codes(over, code):
    assert _check(_ref_headers(**over)) == code


def test_check_rest_allows_30_s_of_skew_and_no_more():
    assert _check(_ref_headers(), now_ms=REF_MS + 30_000) == "0"
    assert _check(_ref_headers(), now_ms=REF_MS - 30_000) == "0"
    assert _check(_ref_headers(), now_ms=REF_MS + 30_001) == "50102"
    assert _check(_ref_headers(), now_ms=REF_MS - 31_000) == "50102"


def test_check_rest_signs_the_query_as_sent_and_the_body_bytes():
    # The same request with the query encoded differently, or the body re-spaced, is refused.
    assert _check(_ref_headers(), path="/api/v5/account/balance?ccy=%42TC") == "50113"
    spaced = R3_BODY.replace(",", ", ")
    post = _ref_headers(**{"OK-ACCESS-SIGN": R3_SIGN})
    assert _check(post, path="/api/v5/trade/order", method="POST", body=spaced) == "50113"


def test_check_rest_enforces_the_ip_whitelist():
    bound = SandboxAccount(REF.api_key, REF.secret, REF.passphrase, {}, ip="10.0.0.1,127.0.0.1")
    assert _check(_ref_headers(), account=bound) == "0"
    assert _check(_ref_headers(), account=bound, remote="10.0.0.2") == "50110"


def test_check_login_accepts_the_reference_vector():
    arg = ws_login_args(REF.api_key, REF.secret, REF.passphrase, 1538054050)
    assert arg["sign"] == "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="
    assert check_login(arg, {REF.api_key: REF}, 1538054050 * 1000) is REF
    assert check_login(arg, {REF.api_key: REF}, 1538054080 * 1000) is REF


@pytest.mark.parametrize(
    ("over", "now_s", "code"),
    [
        ({}, 1538054081, "60006"),
        ({"timestamp": "2018-09-27T13:14:10.000Z"}, 1538054050, "60004"),
        ({"sign": R1_SIGN}, 1538054050, "60007"),
        ({"passphrase": "wrong"}, 1538054050, "60024"),
        ({"apiKey": "unknown"}, 1538054050, "60005"),
    ],
)
def test_check_login_follows_the_ws_rules(over, now_s, code):
    arg = {**ws_login_args(REF.api_key, REF.secret, REF.passphrase, 1538054050), **over}
    with pytest.raises(AuthFailure) as e:
        check_login(arg, {REF.api_key: REF}, now_s * 1000)
    assert e.value.code == code


# -- rate limits (pure) --------------------------------------------------------------------


def test_rate_limiter_public_time_allows_10_per_2_s_per_ip():
    rl = RateLimiter()
    t0 = 5_000_000_000

    def ask(ip: str, t: int) -> str:
        return rl.allow("GET", "/api/v5/public/time", ip=ip, uid="", counts={"": 1}, now_ns=t)

    assert [ask("a", t0) for _ in range(10)] == [""] * 10
    assert ask("a", t0) == "50011"
    assert ask("b", t0) == ""  # another IP has its own bucket
    assert ask("a", t0 + 200_000_000) == ""  # one token back after 0.2 s
    assert ask("a", t0 + 200_000_000) == "50011"


def test_rate_limiter_orders_per_instrument_batches_per_order_and_account_cap():
    rl = RateLimiter()
    t = 1_000_000_000

    def place(inst: str) -> str:
        return rl.allow("POST", "/api/v5/trade/order", ip="", uid="k", counts={inst: 1}, now_ns=t)

    assert [place("BTC-USDT") for _ in range(60)] == [""] * 60
    assert place("BTC-USDT") == "50011"
    assert place("ETH-USDT") == ""  # per instrument
    batch = "/api/v5/trade/batch-orders"
    assert rl.allow("POST", batch, ip="", uid="k", counts={"X": 300}, now_ns=t) == ""
    assert rl.allow("POST", batch, ip="", uid="k", counts={"X": 1}, now_ns=t) == "50011"
    assert rl.allow("POST", batch, ip="", uid="k", counts={"Y": 300, "Z": 300}, now_ns=t) == ""
    # 61 + 900 new orders so far: the account's 1000 / 2 s is reached before Q's own 300.
    assert rl.allow("POST", batch, ip="", uid="k", counts={"Q": 40}, now_ns=t) == "50061"
    assert rl.allow("POST", batch, ip="", uid="k", counts={"Q": 39}, now_ns=t) == ""


def test_load_accounts_reads_toml(tmp_path):
    p = tmp_path / "accounts.toml"
    p.write_text(
        '[[accounts]]\napi_key = "k1"\nsecret = "s1"\npassphrase = "p1"\n'
        'balances = {USDT = "10"}\nperm = "read_only,withdraw,trade"\n'
    )
    (acct,) = load_accounts(p)
    assert (acct.api_key, acct.balances, acct.perm, acct.ip) == (
        "k1",
        {"USDT": "10"},
        "read_only,withdraw,trade",
        "",
    )


# -- the server ----------------------------------------------------------------------------


class _Client:
    """Signed REST calls to a sandbox with the test's own signer."""

    def __init__(self, sandbox: Sandbox, session: aiohttp.ClientSession, ts: str | None = None):
        self.sandbox = sandbox
        self.session = session
        self.ts = ts

    async def get(self, path: str, *, private: bool = True) -> tuple[int, dict[str, Any]]:
        h = signed_headers(A.api_key, A.secret, A.passphrase, "GET", path, timestamp=self.ts)
        async with self.session.get(
            self.sandbox.base_url + path, headers=h if private else {}
        ) as r:
            return r.status, json.loads(await r.text())

    async def post(self, path: str, body: Any, **headers: str) -> tuple[int, dict[str, Any]]:
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        h = signed_headers(A.api_key, A.secret, A.passphrase, "POST", path, text, timestamp=self.ts)
        h.update(headers)
        async with self.session.post(self.sandbox.base_url + path, data=text, headers=h) as r:
            return r.status, json.loads(await r.text())

    async def best(self, inst: str = "BTC-USDT") -> tuple[str, str]:
        _, r = await self.get(f"/api/v5/market/books?instId={inst}&sz=1", private=False)
        return r["data"][0]["bids"][0][0], r["data"][0]["asks"][0][0]


def _order(cid: str, **kw: str) -> dict[str, str]:
    o = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cid,
        "side": "buy",
        "ordType": "limit",
        "px": "50000",
        "sz": "0.01",
    }
    o.update(kw)
    return o


FROZEN_NS = 1_800_000_000_000_000_000
FROZEN_TS = "2027-01-15T08:00:00.000Z"


async def _with_frozen(scenario: Any, **kw: Any) -> Any:
    sandbox = await start_sandbox(clock=lambda: FROZEN_NS, **kw)
    try:
        async with aiohttp.ClientSession() as s:
            return await scenario(_Client(sandbox, s, FROZEN_TS), sandbox)
    finally:
        await sandbox.close()


def test_server_rate_limits_public_time_and_the_burst_fault():
    async def scenario(c: _Client, sandbox: Sandbox) -> list[tuple[int, str]]:
        out = []
        for _ in range(11):
            st, r = await c.get("/api/v5/public/time", private=False)
            out.append((st, r["code"]))
        sandbox.faults.rate_limit_burst = 2
        for _ in range(3):
            st, r = await c.get("/api/v5/account/config")
            out.append((st, r["code"]))
        return out

    out = run(_with_frozen(scenario))
    assert out[:10] == [(200, "0")] * 10
    assert out[10] == (429, "50011")
    assert out[11:] == [(429, "50011"), (429, "50011"), (200, "0")]


def test_server_order_checks_answer_okx_codes():
    async def scenario(c: _Client, sandbox: Sandbox) -> dict[str, Any]:
        p = "/api/v5/trade/order"
        res: dict[str, Any] = {}
        res["ok"] = await c.post(p, _order("ok1"))
        res["dup"] = await c.post(p, _order("ok1"))
        res["cid_dash"] = await c.post(p, _order("bad-id"))
        res["cid_long"] = await c.post(p, _order("x" * 33))
        res["lot"] = await c.post(p, _order("lot1", sz="0.000000001"))
        res["min"] = await c.post(p, _order("min1", sz="0.000001"))
        res["tick"] = await c.post(p, _order("tick1", px="50000.05"))
        res["funds"] = await c.post(p, _order("funds1", sz="3"))
        res["sell_funds"] = await c.post(p, _order("funds2", side="sell", sz="3", px="70000"))
        res["unknown"] = await c.post(p, _order("inst1", instId="DOGE-USDT"))
        res["ctype"] = await c.post(p, _order("ct1"), **{"Content-Type": "text/plain"})
        res["empty"] = await c.post(p, "")
        res["json"] = await c.post(p, "{not json")
        res["batch"] = await c.post(
            "/api/v5/trade/batch-orders", [_order("b1"), _order("b2", sz="0.000001")]
        )
        res["batch21"] = await c.post(
            "/api/v5/trade/batch-orders", [_order(f"c{i}") for i in range(21)]
        )
        sandbox.faults.reject_next = 1
        res["fault"] = await c.post(p, _order("f1"))
        res["after_fault"] = await c.post(p, _order("f2"))
        res["cancel"] = await c.post(
            "/api/v5/trade/cancel-order", {"instId": "BTC-USDT", "clOrdId": "ok1"}
        )
        res["cancel_again"] = await c.post(
            "/api/v5/trade/cancel-order", {"instId": "BTC-USDT", "clOrdId": "ok1"}
        )
        res["reuse"] = await c.post(p, _order("ok1"))  # a terminal order's clOrdId is free again
        res["get_missing"] = await c.get("/api/v5/trade/order?instId=BTC-USDT&ordId=1")
        return res

    res = run(_with_frozen(scenario))

    def s_code(name: str) -> str:
        return res[name][1]["data"][0]["sCode"]

    assert res["ok"][1]["code"] == "0"
    assert s_code("ok") == "0"
    assert s_code("dup") == "51016"
    assert res["dup"][1]["code"] == "1"
    assert s_code("cid_dash") == s_code("cid_long") == "51000"
    assert s_code("lot") == "51121"
    assert s_code("min") == "51020"
    assert s_code("tick") == "51000"
    assert s_code("funds") == "51008"
    assert "USDT" in res["funds"][1]["data"][0]["sMsg"]
    assert s_code("sell_funds") == "51008"
    assert "BTC" in res["sell_funds"][1]["data"][0]["sMsg"]
    assert s_code("unknown") == "51001"
    assert res["ctype"][1]["code"] == "50006"
    assert res["empty"][1]["code"] == "50000"
    assert res["json"][1]["code"] == "50002"
    assert res["batch"][1]["code"] == "2"
    assert [d["sCode"] for d in res["batch"][1]["data"]] == ["0", "51020"]
    assert res["batch21"][1]["code"] == "51000"
    assert s_code("fault") == "50013"
    assert s_code("after_fault") == "0"
    assert s_code("cancel") == "0"
    assert s_code("cancel_again") == "51400"
    assert s_code("reuse") == "0"
    assert res["get_missing"][1]["code"] == "51603"


def test_server_partial_fill_fault_and_amend():
    async def scenario(c: _Client, sandbox: Sandbox) -> dict[str, Any]:
        _, ask = await c.best()
        sandbox.faults.partial_fill_fraction = 0.5
        await c.post("/api/v5/trade/order", _order("p1", ordType="ioc", px=ask, sz="0.02"))
        sandbox.faults.partial_fill_fraction = 1.0
        _, p1 = await c.get("/api/v5/trade/order?instId=BTC-USDT&clOrdId=p1")
        await c.post("/api/v5/trade/order", _order("r1", px="50000", sz="0.02"))
        _, am = await c.post(
            "/api/v5/trade/amend-order",
            {"instId": "BTC-USDT", "clOrdId": "r1", "newPx": "50001", "reqId": "q1"},
        )
        _, r1 = await c.get("/api/v5/trade/order?instId=BTC-USDT&clOrdId=r1")
        _, pending = await c.get("/api/v5/trade/orders-pending?instType=SPOT")
        _, fills = await c.get("/api/v5/trade/fills-history?instType=SPOT")
        return {
            "p1": p1["data"][0],
            "amend": am,
            "r1": r1["data"][0],
            "pending": pending,
            "fills": fills,
        }

    res = run(_with_frozen(scenario))
    p1 = res["p1"]
    assert (p1["state"], p1["accFillSz"], p1["ordType"]) == ("canceled", "0.01", "ioc")
    assert float(p1["fee"]) < 0  # OKX sign: negative = charged
    assert res["amend"]["data"][0]["sCode"] == "0"
    assert res["amend"]["data"][0]["reqId"] == "q1"
    assert (res["r1"]["px"], res["r1"]["state"]) == ("50001", "live")
    assert [o["clOrdId"] for o in res["pending"]["data"]] == ["r1"]
    assert {f["clOrdId"] for f in res["fills"]["data"]} == {"p1"}


# -- WebSocket -----------------------------------------------------------------------------


async def _recv_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5.0)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return dict(json.loads(msg.data))


async def _until(ws: aiohttp.ClientWebSocketResponse, pred: Any, limit: int = 50) -> dict:
    for _ in range(limit):
        m = await _recv_json(ws)
        if pred(m):
            return m
    raise AssertionError("expected message not received")


async def _public_books(gap_after: int) -> dict[str, Any]:
    sandbox = await start_sandbox(faults=Faults(books_seq_gap_after=gap_after))
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(sandbox.ws_public_url) as ws:
            await ws.send_str("ping")
            pong = (await ws.receive(timeout=5)).data
            await ws.send_str(
                json.dumps(
                    {
                        "id": "7",
                        "op": "subscribe",
                        "args": [{"channel": "books", "instId": "BTC-USDT"}],
                    }
                )
            )
            ack = await _recv_json(ws)
            snap = await _recv_json(ws)
            updates = [await _recv_json(ws) for _ in range(4)]
            await ws.send_str(
                json.dumps({"op": "subscribe", "args": [{"channel": "tickers", "instId": "X"}]})
            )
            err = await _until(ws, lambda m: m.get("event") == "error")
        return {"pong": pong, "ack": ack, "snap": snap, "updates": updates, "err": err}
    finally:
        await sandbox.close()


def test_ws_books_snapshot_then_continuous_updates():
    res = run(_public_books(0))
    assert res["pong"] == "pong"
    assert res["ack"]["event"] == "subscribe"
    assert res["ack"]["id"] == "7"
    snap = res["snap"]
    assert snap["action"] == "snapshot"
    d0 = snap["data"][0]
    assert (d0["prevSeqId"], d0["checksum"]) == (-1, 0)
    assert d0["bids"][0][2] == "0"
    assert len(d0["bids"][0]) == 4
    last = d0["seqId"]
    for u in res["updates"]:
        assert u["action"] == "update"
        d = u["data"][0]
        assert d["prevSeqId"] == last
        assert d["seqId"] > last
        last = d["seqId"]
    assert res["err"]["code"] == "60018"


def test_ws_books_seq_gap_fault_breaks_continuity():
    res = run(_public_books(2))
    seqs = [(u["data"][0]["prevSeqId"], u["data"][0]["seqId"]) for u in res["updates"]]
    last = res["snap"]["data"][0]["seqId"]
    breaks = 0
    for prev, seq in seqs:
        breaks += prev != last
        last = seq
    assert breaks >= 1


async def _private_flow() -> dict[str, Any]:
    sandbox = await start_sandbox()
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(sandbox.ws_private_url) as ws:
            c = _Client(sandbox, s)
            sub = {"op": "subscribe", "args": [{"channel": "orders", "instType": "SPOT"}]}
            await ws.send_str(json.dumps(sub))
            not_logged = await _recv_json(ws)
            bad = ws_login_args(A.api_key, "wrong", A.passphrase, int(time.time()))
            await ws.send_str(json.dumps({"op": "login", "args": [bad]}))
            bad_login = await _recv_json(ws)
            good = ws_login_args(A.api_key, A.secret, A.passphrase, int(time.time()))
            await ws.send_str(json.dumps({"op": "login", "args": [good]}))
            login = await _recv_json(ws)
            await ws.send_str(json.dumps(sub))
            ack = await _recv_json(ws)
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "account"}]}))
            await _recv_json(ws)
            account = await _recv_json(ws)
            _, ask = await c.best()
            px = f"{float(ask) * 1.01:.1f}"  # through the book even if it moved meanwhile
            await c.post("/api/v5/trade/order", _order("w1", ordType="ioc", px=px, sz="0.01"))
            pushes = [await _until(ws, lambda m: m["arg"]["channel"] == "orders")]
            for _ in range(20):
                if pushes[-1]["data"][0]["state"] in ("filled", "canceled"):
                    break
                pushes.append(await _until(ws, lambda m: m["arg"]["channel"] == "orders"))
            op = {
                "id": "o1",
                "op": "order",
                "args": [
                    {
                        "instIdCode": 10000,
                        "tdMode": "cash",
                        "clOrdId": "w2",
                        "side": "buy",
                        "ordType": "limit",
                        "px": "50000",
                        "sz": "0.01",
                    }
                ],
            }
            await ws.send_str(json.dumps(op))
            op_reply = await _until(ws, lambda m: m.get("id") == "o1")
        return {
            "not_logged": not_logged,
            "bad_login": bad_login,
            "login": login,
            "ack": ack,
            "pushes": pushes,
            "op": op_reply,
            "orders": sandbox.orders(),
            "account": account,
        }
    finally:
        await sandbox.close()


def test_ws_private_login_orders_pushes_and_order_op():
    res = run(_private_flow())
    assert res["not_logged"]["code"] == "60011"
    assert res["bad_login"]["code"] == "60007"
    assert (res["login"]["event"], res["login"]["code"]) == ("login", "0")
    assert res["ack"]["event"] == "subscribe"
    states = [p["data"][0]["state"] for p in res["pushes"]]
    assert states[0] == "live"
    assert states[-1] == "filled"
    fill = res["pushes"][-1]["data"][0]
    assert fill["clOrdId"] == "w1"
    assert fill["tradeId"]
    assert float(fill["fillSz"]) > 0
    assert fill["accFillSz"] == "0.01"
    assert float(fill["fillFee"]) < 0
    assert res["pushes"][0]["arg"]["channel"] == "orders"
    assert (res["op"]["code"], res["op"]["data"][0]["sCode"]) == ("0", "0")
    assert [o["clOrdId"] for o in res["orders"]] == ["w1", "w2"]
    usdt = {d["ccy"]: d for d in res["account"]["data"][0]["details"]}["USDT"]
    assert (res["account"]["arg"]["channel"], usdt["eq"]) == ("account", "100000")


async def _dropped() -> tuple[list[str], aiohttp.WSMsgType]:
    sandbox = await start_sandbox(
        faults=Faults(drop_ws_after_msgs=3, notice_before_disconnect=True)
    )
    texts: list[str] = []
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(sandbox.ws_public_url) as ws:
            await ws.send_str(
                json.dumps(
                    {"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}
                )
            )
            for _ in range(10):
                msg = await ws.receive(timeout=5)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    return texts, msg.type
                texts.append(msg.data)
        raise AssertionError("the connection was not dropped")
    finally:
        await sandbox.close()


def test_ws_drop_fault_sends_notice_then_drops():
    texts, end = run(_dropped())
    assert len(texts) == 4  # ack, snapshot, one update, then the notice
    assert json.loads(texts[-1])["code"] == "64008"
    assert end in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)


async def _top_channels() -> tuple[dict[str, Any], dict[str, Any]]:
    sandbox = await start_sandbox()
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(sandbox.ws_public_url) as ws:
            args = [
                {"channel": "books5", "instId": "ETH-USDT"},
                {"channel": "bbo-tbt", "instId": "ETH-USDT"},
            ]
            await ws.send_str(json.dumps({"op": "subscribe", "args": args}))
            five = await _until(
                ws, lambda m: m.get("arg", {}).get("channel") == "books5" and "data" in m
            )
            bbo = await _until(
                ws, lambda m: m.get("arg", {}).get("channel") == "bbo-tbt" and "data" in m
            )
        return five, bbo
    finally:
        await sandbox.close()


def test_ws_books5_and_bbo_tbt_push_top_levels():
    five, bbo = run(_top_channels())
    d5, d1 = five["data"][0], bbo["data"][0]
    assert "action" not in five
    assert (len(d5["bids"]), len(d5["asks"]), d5["instId"]) == (5, 5, "ETH-USDT")
    assert (len(d1["bids"]), len(d1["asks"])) == (1, 1)
    assert isinstance(d1["seqId"], int)
    assert float(d1["bids"][0][0]) < float(d1["asks"][0][0])


def test_market_feed_replays_on_the_clock_and_loops():
    from arb.core.events import Trade
    from venues.okx.sandbox.market import MarketFeed

    def trade(i: int) -> Trade:
        return Trade(
            venue="okx", symbol="BTC-USDT", ts_event=0, ts_recv=0, trade_id=str(i), px=1, qty=1,
            side="buy",
        )  # fmt: skip

    def ids(events: list[Any]) -> list[str]:
        return [e.trade_id for e in events if isinstance(e, Trade)]

    ms = 1_000_000
    timeline: list[Any] = [(0, trade(0)), (500 * ms, trade(1)), (900 * ms, trade(2))]
    feed = MarketFeed(timeline, start_ns=10_000 * ms)  # loops every 1 s (900 ms + 100 ms)
    assert ids(feed.poll(10_000 * ms)) == ["0"]
    assert feed.poll(10_400 * ms) == []
    got = feed.poll(10_600 * ms)
    assert [e.ts_recv for e in got] == [10_600 * ms]
    assert ids(got) == ["1"]
    assert ids(feed.poll(11_100 * ms)) == ["2", "0"]  # the end, then the second loop
    # A 9 s stall: one full loop at most is released, then the replay goes on from now.
    assert ids(feed.poll(20_000 * ms)) == ["0", "1", "2", "0"]
    assert ids(feed.poll(20_500 * ms)) == ["1"]


def test_recording_without_okx_is_refused(tmp_path):
    from arb.core.errors import RecordingError
    from arb.synth import generate

    generate(tmp_path / "bn", seconds=2, seed=1, venues=["binance"], symbols=["BTC-USDT"])
    with pytest.raises(RecordingError, match="no OKX spot instrument"):
        run(start_sandbox(market=tmp_path / "bn"))


def test_cli_parses_okx_sandbox():
    from arb.cli import build_parser

    args = build_parser().parse_args(
        ["okx-sandbox", "--port", "0", "--synthetic", "--seed", "3", "--speed", "2"]
    )
    assert (args.command, args.port, args.market, args.seed, args.speed) == (
        "okx-sandbox",
        0,
        None,
        3,
        2.0,
    )


def test_ack_delay_fault_delays_trade_answers_and_demo_header_is_accepted():
    async def scenario() -> tuple[float, float, dict[str, Any]]:
        sandbox = await start_sandbox(faults=Faults(ack_delay_ms=300))
        try:
            async with aiohttp.ClientSession() as s:
                c = _Client(sandbox, s)
                t0 = time.monotonic()
                await c.get("/api/v5/account/balance")
                t1 = time.monotonic()
                _, r = await c.post(
                    "/api/v5/trade/order", _order("d1"), **{"x-simulated-trading": "1"}
                )
                t2 = time.monotonic()
            return t1 - t0, t2 - t1, r
        finally:
            await sandbox.close()

    _read, placed, r = run(scenario())
    assert placed >= 0.3
    assert r["data"][0]["sCode"] == "0"

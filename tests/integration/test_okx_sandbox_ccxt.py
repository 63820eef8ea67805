"""Independent check of the OKX sandbox: ccxt's own ``okx`` classes against it, on loopback.

ccxt gets an aiohttp session whose trace records every request and WebSocket upgrade it makes;
each test asserts that all of them went to the sandbox (127.0.0.1 and its port) and that the
sandbox saw each of them. ccxt is used as shipped, with its API URLs pointed at the sandbox:
``urls["api"] = {"rest": base_url, "ws": "ws://127.0.0.1:PORT/ws/v5"}`` (it appends
``/public`` or ``/private``); no option is changed. What it asks beyond the endpoints of the
issue: ``public/instruments`` for SPOT, FUTURES, SWAP and OPTION (``uly`` BTC-USD, ETH-USD),
and ``asset/currencies`` (load_markets with credentials); ``createOrder`` places through
``trade/batch-orders``; ``fetchMyTrades`` reads ``trade/fills-history``.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from arb.synth import generate
from tests.integration._okx_helpers import TracedSession
from tests.integration._okx_helpers import iso_now
from tests.integration._okx_helpers import run
from tests.integration._okx_helpers import signed_headers
from venues.okx.sandbox import DEFAULT_ACCOUNT
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import start_sandbox

pytestmark = pytest.mark.integration

SYMBOL = "BTC/USDT"


@pytest.fixture(scope="module")
def okx_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("okx-sandbox") / "market"
    generate(out, seconds=20, seed=7, venues=["okx"], symbols=["BTC-USDT", "ETH-USDT"])
    return out


def _point_at(exchange, sandbox: Sandbox) -> None:
    ws_base = sandbox.ws_public_url.rsplit("/", 1)[0]
    exchange.urls["api"] = {"rest": sandbox.base_url, "ws": ws_base}


def _rest_client(sandbox: Sandbox, session: aiohttp.ClientSession):
    ex = ccxt_async.okx(
        {
            "apiKey": DEFAULT_ACCOUNT.api_key,
            "secret": DEFAULT_ACCOUNT.secret,
            "password": DEFAULT_ACCOUNT.passphrase,
            "session": session,
        }
    )
    _point_at(ex, sandbox)
    return ex


async def _ccxt_trading_scenario(recording: Path) -> None:
    sandbox = await start_sandbox(market=recording)
    traced = TracedSession()
    ex = _rest_client(sandbox, traced.session)
    try:
        balance = await ex.fetch_balance()
        assert balance["USDT"]["total"] == 100000
        assert balance["BTC"]["free"] == 2

        book = await ex.fetch_order_book(SYMBOL, 5)
        best_bid, best_ask = book["bids"][0][0], book["asks"][0][0]
        assert 0 < best_bid < best_ask

        resting = await ex.create_order(SYMBOL, "limit", "buy", 0.01, round(best_bid * 0.9, 1))
        got = await ex.fetch_order(resting["id"], SYMBOL)
        assert (got["status"], got["filled"], got["amount"]) == ("open", 0, 0.01)
        balance = await ex.fetch_balance()
        assert balance["USDT"]["used"] > 0  # the open order reserves quote

        await ex.cancel_order(resting["id"], SYMBOL)
        got = await ex.fetch_order(resting["id"], SYMBOL)
        assert got["status"] == "canceled"

        taker = await ex.create_order(
            SYMBOL, "limit", "buy", 0.01, round(best_ask * 1.01, 1), {"timeInForce": "IOC"}
        )
        got = await ex.fetch_order(taker["id"], SYMBOL)
        assert got["status"] == "closed"
        assert got["filled"] == pytest.approx(0.01)
        assert got["fee"]["cost"] > 0  # ccxt turns OKX's negative (charged) fee positive

        trades = await ex.fetch_my_trades(SYMBOL)
        assert trades
        assert {t["order"] for t in trades} == {taker["id"]}
        assert sum(t["amount"] for t in trades) == pytest.approx(0.01)

        records = {o["ordId"]: o for o in sandbox.orders()}
        assert records[resting["id"]]["state"] == "canceled"
        assert records[taker["id"]]["state"] == "filled"
        assert {f["tradeId"] for f in sandbox.fills()} == {t["id"] for t in trades}
    finally:
        await ex.close()
        await traced.session.close()
        await sandbox.close()
    traced.assert_only(sandbox, exact=True)


def test_ccxt_okx_trades_against_the_sandbox(okx_recording):
    run(_ccxt_trading_scenario(okx_recording), timeout=25)


async def _ccxt_pro_books(recording: Path) -> None:
    sandbox = await start_sandbox(market=recording)
    traced = TracedSession()
    ex = ccxt_pro.okx({"session": traced.session})
    _point_at(ex, sandbox)
    nonces: list[int] = []
    try:
        for _ in range(4):
            ob = await ex.watch_order_book(SYMBOL)
            assert ob["bids"]
            assert ob["asks"]
            assert ob["bids"][0][0] < ob["asks"][0][0]
            nonces.append(ob["nonce"])
    finally:
        await ex.close()
        await traced.session.close()
        await sandbox.close()
    assert nonces == sorted(nonces)
    assert len(set(nonces)) >= 2  # updates arrived after the snapshot
    assert any(u.startswith("ws://") and u.endswith("/ws/v5/public") for u in traced.urls)
    traced.assert_only(sandbox, exact=True)


def test_ccxt_pro_watch_order_book_reads_the_sandbox_books(okx_recording):
    run(_ccxt_pro_books(okx_recording), timeout=20)


async def _raw_balance(sandbox: Sandbox, **kw: object) -> tuple[int, dict]:
    path = "/api/v5/account/balance"
    a = DEFAULT_ACCOUNT
    headers = signed_headers(a.api_key, a.secret, a.passphrase, "GET", path, **kw)  # type: ignore[arg-type]
    async with (
        aiohttp.ClientSession() as s,
        s.get(sandbox.base_url + path, headers=headers) as r,
    ):
        return r.status, json.loads(await r.text())


async def _auth_refusals() -> tuple[tuple[int, dict], tuple[int, dict], tuple[int, dict]]:
    sandbox = await start_sandbox()
    try:
        ok = await _raw_balance(sandbox)
        a = DEFAULT_ACCOUNT
        path = "/api/v5/account/balance"
        bad = signed_headers(a.api_key, "not-the-secret", a.passphrase, "GET", path)
        async with (
            aiohttp.ClientSession() as s,
            s.get(sandbox.base_url + path, headers=bad) as r,
        ):
            wrong_secret = (r.status, json.loads(await r.text()))
        stale = await _raw_balance(sandbox, timestamp=iso_now(-31))
    finally:
        await sandbox.close()
    return ok, wrong_secret, stale


def test_wrong_secret_gets_50113_and_31_s_old_timestamp_gets_50102():
    ok, wrong_secret, stale = run(_auth_refusals())
    assert ok[0] == 200
    assert ok[1]["code"] == "0"
    assert wrong_secret == (401, {"code": "50113", "msg": "Invalid signature.", "data": []})
    assert stale == (401, {"code": "50102", "msg": "Timestamp request expired", "data": []})

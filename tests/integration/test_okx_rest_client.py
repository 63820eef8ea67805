"""The native OKX REST client against the OKX-protocol sandbox on loopback.

Signing, typed answers, the retry table (auth stops, skew resyncs once, rate limits back off,
a duplicate clOrdId is resolved by querying the order) and client-side rate limiting.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest

from tests.integration._okx_helpers import run
from venues.okx.credentials import OkxCredentials
from venues.okx.errors import OkxAuthError
from venues.okx.errors import OkxError
from venues.okx.errors import OkxOrderRejected
from venues.okx.keys import judge
from venues.okx.rest import OkxRestClient
from venues.okx.sandbox import DEFAULT_ACCOUNT
from venues.okx.sandbox import Faults
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import start_sandbox

CREDS = OkxCredentials(
    api_key=DEFAULT_ACCOUNT.api_key,
    secret=DEFAULT_ACCOUNT.secret,
    passphrase=DEFAULT_ACCOUNT.passphrase,
)


@asynccontextmanager
async def sandbox_and_client(
    creds: OkxCredentials = CREDS, **client_kw: object
) -> AsyncIterator[tuple[Sandbox, OkxRestClient]]:
    sb = await start_sandbox(faults=Faults())
    try:
        async with OkxRestClient(creds, base_url=sb.base_url, **client_kw) as client:  # type: ignore[arg-type]
            yield sb, client
    finally:
        await sb.close()


def test_public_and_account_endpoints_decode_into_typed_answers():
    async def go() -> None:
        async with sandbox_and_client() as (_, c):
            assert abs(await c.server_time() - time.time_ns() // 1_000_000) < 5_000
            spot = await c.instruments("SPOT")
            assert "BTC-USDT" in {i.instId for i in spot}
            book = await c.books("BTC-USDT", 5)
            assert float(book.bids[0][0]) < float(book.asks[0][0])
            bal = await c.balance()
            assert {d.ccy: d.availBal for d in bal.details}["USDT"] == "100000"
            verdict = judge(await c.account_config())
            assert verdict.ok
            assert not verdict.ip_bound
            fee = await c.trade_fee("SPOT", "BTC-USDT")
            assert fee.feeGroup[0].taker.startswith("-")  # negative = commission charged

    run(go())


def test_place_get_cancel_and_a_retried_client_order_id_is_never_doubled():
    async def go() -> None:
        async with sandbox_and_client() as (sb, c):
            order = {
                "instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
                "sz": "0.001", "px": "1000", "clOrdId": "arbTest1",
            }  # fmt: skip
            ack = await c.place_order(order)
            assert ack.sCode == "0"
            assert ack.ordId
            again = await c.place_order(order)  # 51016 -> the order is queried, not placed twice
            assert again.ordId == ack.ordId
            assert [o["clOrdId"] for o in sb.orders()].count("arbTest1") == 1
            live = await c.get_order("BTC-USDT", cl_ord_id="arbTest1")
            assert (live.state, live.px, live.sz) == ("live", "1000", "0.001")
            assert [o.clOrdId for o in await c.pending_orders()] == ["arbTest1"]
            await c.cancel_order("BTC-USDT", cl_ord_id="arbTest1")
            assert (await c.get_order("BTC-USDT", ord_id=ack.ordId)).state == "canceled"

    run(go())


def test_a_marketable_ioc_fills_and_its_fills_are_listed():
    async def go() -> None:
        async with sandbox_and_client() as (_, c):
            book = await c.books("BTC-USDT", 5)
            ask = book.asks[0][0]
            ack = await c.place_order(
                {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "ioc",
                 "sz": "0.001", "px": ask, "clOrdId": "arbIoc1"}
            )  # fmt: skip
            got = await c.get_order("BTC-USDT", ord_id=ack.ordId)
            assert got.state in ("filled", "canceled")
            fills = await c.fills()
            assert sum(float(f.fillSz) for f in fills if f.ordId == ack.ordId) == float(
                got.accFillSz
            )

    run(go())


def test_a_rejected_order_raises_its_typed_error():
    async def go() -> None:
        async with sandbox_and_client() as (_, c):
            with pytest.raises(OkxOrderRejected) as e:
                await c.place_order(
                    {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
                     "sz": "500", "px": "60000", "clOrdId": "arbBig1"}
                )  # fmt: skip  # 30M USDT: insufficient balance
            assert e.value.code == "51008"

    run(go())


def test_a_wrong_secret_stops_at_once_with_50113():
    bad = OkxCredentials(api_key=CREDS.api_key, secret="wrong", passphrase=CREDS.passphrase)  # noqa: S106

    async def go() -> None:
        async with sandbox_and_client(bad) as (_, c):
            with pytest.raises(OkxAuthError) as e:
                await c.balance()
            assert e.value.code == "50113"
            assert c.retries == 0
            assert "wrong" not in str(e.value)

    run(go())


def test_a_clock_31_s_behind_is_resynced_once_and_the_request_succeeds():
    async def go() -> None:
        skewed = lambda: time.time_ns() - 31 * 1_000_000_000  # noqa: E731
        async with sandbox_and_client(clock_ns=skewed) as (_, c):
            bal = await c.balance()
            assert bal.details
            assert c.retries == 1
            assert 30.0 < c.offset_ns / 1e9 < 32.0

    run(go())


def test_rate_limit_answers_are_backed_off_and_retried():
    async def go() -> None:
        async with sandbox_and_client(backoff_s=0.01) as (sb, c):
            sb.faults.rate_limit_burst = 2
            bal = await c.balance()
            assert bal.details
            assert c.retries == 2

    run(go())


def _limit(cid: str, px: str = "1000", sz: str = "0.001") -> dict[str, str]:
    return {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
            "sz": sz, "px": px, "clOrdId": cid}  # fmt: skip


def test_candles_funding_rate_and_mark_price_of_the_swap_twin():
    async def go() -> None:
        async with sandbox_and_client() as (_, c):
            rows = await c.candles("BTC-USDT", "1m", limit=5)
            assert 1 <= len(rows) <= 5
            assert all(len(r) == 9 and r[8] in ("0", "1") for r in rows)
            assert [int(r[0]) for r in rows] == sorted((int(r[0]) for r in rows), reverse=True)
            o, h, lo, cl = rows[0][1:5]
            assert float(lo) <= min(float(o), float(cl)) <= max(float(o), float(cl)) <= float(h)
            assert (await c.candles("BTC-USDT", "1D"))[0][8] == "0"  # the open bar
            fr = await c.funding_rate("BTC-USDT-SWAP")
            assert fr.instId == "BTC-USDT-SWAP"
            assert int(fr.nextFundingTime) - int(fr.fundingTime) == 8 * 3_600_000
            again = await c.funding_rate("BTC-USDT-SWAP")
            assert (again.fundingRate, again.fundingTime) == (fr.fundingRate, fr.fundingTime)
            (mark,) = await c.mark_price("SWAP", "BTC-USDT-SWAP")
            book = await c.books("BTC-USDT", 1)
            assert float(book.bids[0][0]) - 0.1 <= float(mark.markPx) <= float(book.asks[0][0])
            assert len(await c.mark_price("SWAP")) == 2
            with pytest.raises(OkxError) as e:
                await c.funding_rate("BTC-USDT")
            assert e.value.code == "51001"

    run(go())


def test_bills_after_an_ioc_fill_hold_the_fee_as_a_negative_amount():
    async def go() -> None:
        async with sandbox_and_client() as (_, c):
            ask = (await c.books("BTC-USDT", 5)).asks[0][0]
            ack = await c.place_order(
                {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "ioc",
                 "sz": "0.001", "px": ask, "clOrdId": "arbBill1"}
            )  # fmt: skip
            assert (await c.get_order("BTC-USDT", ord_id=ack.ordId)).accFillSz == "0.001"
            bills = await c.bills()
            mine = [b for b in bills if b.ordId == ack.ordId]
            usdt = next(b for b in mine if b.ccy == "USDT")
            btc = next(b for b in mine if b.ccy == "BTC")
            assert Decimal(usdt.fee) < 0
            assert Decimal(usdt.balChg) == -Decimal(ask) * Decimal("0.001") + Decimal(usdt.fee)
            assert (btc.balChg, btc.type) == ("0.001", "2")
            bal = {d.ccy: d.cashBal for d in (await c.balance()).details}
            assert Decimal(usdt.bal) == Decimal(bal["USDT"])
            assert Decimal(btc.bal) == Decimal(bal["BTC"])
            assert [b.ccy for b in await c.bills(ccy="BTC")] == ["BTC"]

    run(go())


def test_amend_order_changes_the_price_and_size_of_a_resting_limit():
    async def go() -> None:
        async with sandbox_and_client() as (_, c):
            ack = await c.place_order(_limit("arbAmend1"))
            await c.amend_order("BTC-USDT", ord_id=ack.ordId, new_px="1001", new_sz="0.002")
            got = await c.get_order("BTC-USDT", ord_id=ack.ordId)
            assert (got.state, got.px, got.sz) == ("live", "1001", "0.002")
            with pytest.raises(OkxError) as e:
                await c.amend_order("BTC-USDT", cl_ord_id="arbNone1", new_px="1002")
            assert e.value.code == "51503"

    run(go())


def test_batch_place_answers_per_item_and_batch_cancel_cancels_the_placed():
    async def go() -> None:
        async with sandbox_and_client() as (sb, c):
            batch = [_limit("arbB1"), _limit("arbB2", sz="0.0000001"), _limit("arbB3", "999")]
            acks = await c.place_orders(batch)
            assert [a.sCode for a in acks] == ["0", "51020", "0"]  # under the minimum size
            assert [a.clOrdId for a in acks] == ["arbB1", "arbB2", "arbB3"]
            assert sorted(o.clOrdId for o in await c.pending_orders()) == ["arbB1", "arbB3"]
            refs = [{"instId": "BTC-USDT", "ordId": a.ordId} for a in acks if a.sCode == "0"]
            refs.append({"instId": "BTC-USDT", "clOrdId": "arbNope1"})
            done = await c.cancel_orders(refs)
            assert [d.sCode for d in done] == ["0", "0", "51603"]
            assert await c.pending_orders() == []
            assert {o["clOrdId"]: o["state"] for o in sb.orders()} == {
                "arbB1": "canceled", "arbB3": "canceled",
            }  # fmt: skip

    run(go())

"""Restart recovery against the OKX sandbox on loopback: an order placed by one venue object is
looked up by its client order id from a *new* venue object (a new process's state), through
the native OKX adapter and through ccxt's ``okx`` class: acknowledged, the exact fills the
sandbox recorded, its end; a client order id never sent is ``NOT_PLACED``."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import ccxt.pro as ccxt_pro
import pytest

from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.messages import CancelOrder
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import to_raw
from arb.core.orders import Order
from arb.core.orders import OrderState
from arb.core.types import Side
from arb.recovery import NOT_PLACED
from tests.integration._okx_helpers import run
from venues.ccxt.instruments import instruments_from_markets
from venues.ccxt.venue import CcxtVenue
from venues.okx.credentials import OkxCredentials
from venues.okx.rest import OkxRestClient
from venues.okx.sandbox import DEFAULT_ACCOUNT
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import start_sandbox
from venues.okx.venue import OkxVenue

pytestmark = pytest.mark.integration

CREDS = OkxCredentials(DEFAULT_ACCOUNT.api_key, DEFAULT_ACCOUNT.secret, DEFAULT_ACCOUNT.passphrase)
CCXT_VENUE = "okxccxt"


def _cmd(venue: str, inst: Instrument, cid: str, otype: OrderType, px: int, qty: int):
    return PlaceOrder(
        venue=venue, symbol=inst.symbol, client_order_id=cid, side=Side.BUY, order_type=otype,
        px=px, qty=qty, ts=time.time_ns(),
    )  # fmt: skip


def _expected_fills(sandbox: Sandbox, inst: Instrument, cid: str) -> dict[str, tuple]:
    # What the sandbox recorded, in arb's units (OKX fee negative = charged; arb's positive).
    return {
        r["tradeId"]: (inst.px_to_raw(r["fillPx"]), inst.qty_to_raw(r["fillSz"]),
                       -to_raw(r["fee"], AMOUNT_PRECISION), r["feeCcy"])
        for r in sandbox.fills() if r["clOrdId"] == cid
    }  # fmt: skip


def _check_answer(
    events: list[OrderEvent], cmd: PlaceOrder, inst: Instrument, sandbox: Sandbox
) -> Order:
    """The answer is an ack, the exact fills, then the end; it drives an Order to its end."""
    (record,) = [o for o in sandbox.orders() if o["clOrdId"] == cmd.client_order_id]
    assert isinstance(events[0], OrderAccepted)
    assert events[0].venue_order_id == record["ordId"]
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert {f.trade_id: (f.px, f.qty, f.fee, f.fee_ccy) for f in fills} == _expected_fills(
        sandbox, inst, cmd.client_order_id
    )
    assert all(f.fee > 0 and f.side is Side.BUY and f.liquidity == "taker" for f in fills)
    order = Order.from_place(cmd, inst)
    for e in events:
        order.apply(e)
    assert order.is_terminal
    assert order.races == {}  # in the order the state machine expects
    assert order.filled_qty == inst.qty_to_raw(record["accFillSz"])
    if record["state"] == "filled":
        assert order.state is OrderState.FILLED
        assert not any(isinstance(e, OrderCanceled) for e in events)
    else:
        assert record["state"] == "canceled"
        assert isinstance(events[-1], OrderCanceled)
        assert events[-1].reason == "IOC_REMAINDER"
    return order


# -- native OKX ----------------------------------------------------------------------------------


async def _okx_inst(rest: OkxRestClient) -> Instrument:
    spec = {i.instId: i for i in await rest.instruments("SPOT")}["BTC-USDT"]
    return Instrument.create(
        venue="okx", symbol="BTC-USDT", venue_symbol="BTC-USDT", kind=InstrumentKind.SPOT,
        base="BTC", quote="USDT", tick_size=spec.tickSz, lot_size=spec.lotSz, min_size=spec.minSz,
    )  # fmt: skip


def test_okx_a_new_venue_looks_up_orders_by_client_id_with_their_exact_fills():
    async def go() -> None:
        sb = await start_sandbox()
        try:
            async with OkxRestClient(CREDS, base_url=sb.base_url) as rest:
                inst = await _okx_inst(rest)
                first = OkxVenue(rest, [inst], clock_ns=time.time_ns)
                ask = inst.px_to_raw((await rest.books("BTC-USDT", 5)).asks[0][0])
                qty = inst.qty_to_raw("0.002")
                full = _cmd("okx", inst, "recOkx1", OrderType.IOC, ask + 50 * inst.tick_raw, qty)
                first.submit(full, time.time_ns())
                await first.wait_idle()
                sb.faults.partial_fill_fraction = 0.5
                half = _cmd("okx", inst, "recOkx2", OrderType.IOC, ask + 50 * inst.tick_raw, qty)
                first.submit(half, time.time_ns())
                await first.wait_idle()
                sb.faults.partial_fill_fraction = 1.0
                acks = first.advance(time.time_ns())
                assert [type(e) for e in acks] == [OrderAccepted, OrderAccepted]
            # a new process: new client, new venue, nothing in memory
            async with OkxRestClient(CREDS, base_url=sb.base_url) as rest2:
                second = OkxVenue(rest2, [inst], clock_ns=time.time_ns)
                filled = _check_answer(await second.lookup(full), full, inst, sb)
                assert filled.state is OrderState.FILLED
                partial = _check_answer(await second.lookup(half), half, inst, sb)
                assert partial.state is OrderState.CANCELED
                assert 0 < partial.filled_qty < half.qty
                never = _cmd("okx", inst, "recOkxNever", OrderType.IOC, ask, qty)
                (ev,) = await second.lookup(never)
                assert isinstance(ev, OrderRejected)
                assert ev.reason == NOT_PLACED
                # asking again gives the same answer (the caller drops what it knows)
                again = await second.lookup(full)
                assert [type(e) for e in again] == [type(e) for e in await second.lookup(full)]
                assert second.errors == {}
                assert second.advance(time.time_ns()) == []  # lookups return, never queue
        finally:
            await sb.close()

    run(go())


# -- ccxt okx ------------------------------------------------------------------------------------


def _exchange(sandbox: Sandbox, session: aiohttp.ClientSession):
    ex = ccxt_pro.okx(
        {"apiKey": DEFAULT_ACCOUNT.api_key, "secret": DEFAULT_ACCOUNT.secret,
         "password": DEFAULT_ACCOUNT.passphrase, "session": session}
    )  # fmt: skip
    ex.urls["api"] = {"rest": sandbox.base_url, "ws": sandbox.ws_public_url.rsplit("/", 1)[0]}
    return ex


async def _ccxt_venue(sandbox: Sandbox, session: aiohttp.ClientSession) -> tuple[object, CcxtVenue]:
    ex = _exchange(sandbox, session)
    insts = instruments_from_markets(CCXT_VENUE, await ex.load_markets(), ex.precisionMode)
    venue = CcxtVenue(
        ex, CCXT_VENUE, insts, clock_ns=time.time_ns, poll_interval_s=0.1, use_watch=False
    )
    return ex, venue


def test_ccxt_a_new_venue_looks_up_orders_by_client_id_and_follows_them():
    async def go() -> None:
        sb = await start_sandbox()
        session = aiohttp.ClientSession()
        ex1, first = await _ccxt_venue(sb, session)
        ex2, second = await _ccxt_venue(sb, session)
        try:
            inst = first.instrument("BTC-USDT")
            book = await ex1.fetch_order_book("BTC/USDT", 5)  # type: ignore[attr-defined]
            ask = inst.px_to_raw(str(book["asks"][0][0])) + 50 * inst.tick_raw
            bid = inst.px_to_raw(str(book["bids"][0][0]))
            qty = inst.qty_to_raw("0.002")
            ioc = _cmd(CCXT_VENUE, inst, "recCcxt1", OrderType.IOC, ask, qty)
            sb.faults.partial_fill_fraction = 0.5
            first.submit(ioc, time.time_ns())
            await first.wait_idle()
            sb.faults.partial_fill_fraction = 1.0
            resting = _cmd(CCXT_VENUE, inst, "recCcxt2", OrderType.LIMIT, bid // 2, qty)
            first.submit(resting, time.time_ns())
            await first.wait_idle()
            assert "recCcxt2" in first.open_orders()  # resting (first has no poller)
            # a new process: its own exchange object and venue, nothing in memory
            partial = _check_answer(await second.lookup(ioc), ioc, inst, sb)
            assert partial.state is OrderState.CANCELED
            assert 0 < partial.filled_qty < ioc.qty
            (ack,) = await second.lookup(resting)  # resting: acknowledged, open
            assert isinstance(ack, OrderAccepted)
            assert second.open_orders() == ["recCcxt2"]  # registered: followed from now on
            never = _cmd(CCXT_VENUE, inst, "recCcxtNever", OrderType.IOC, ask, qty)
            (ev,) = await second.lookup(never)
            assert isinstance(ev, OrderRejected)
            assert ev.reason == NOT_PLACED
            # the looked-up order is followed: cancel it through the new venue, its poller
            # reports the cancel through advance
            await second.start()
            second.submit(
                CancelOrder(venue=CCXT_VENUE, symbol=inst.symbol, client_order_id="recCcxt2",
                            ts=time.time_ns()),
                time.time_ns(),
            )  # fmt: skip
            events: list[OrderEvent] = []
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not events:
                events = second.advance(time.time_ns())
                await asyncio.sleep(0.05)
            (cancel,) = events
            assert isinstance(cancel, OrderCanceled)
            assert cancel.reason == "REQUESTED"
            assert {o["clOrdId"]: o["state"] for o in sb.orders()}["recCcxt2"] == "canceled"
            assert second.open_orders() == []
            assert set(second.errors) <= {"OrderNotFound"}  # the never-sent lookup
        finally:
            await first.close()
            await second.close()
            await ex1.close()  # type: ignore[attr-defined]
            await ex2.close()  # type: ignore[attr-defined]
            await session.close()
            await sb.close()

    run(go(), timeout=20)

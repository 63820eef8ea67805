"""The OKX execution venue: arb commands -> OKX requests, OKX answers and pushes -> arb events.

Pure conversions first, then the whole path against the sandbox on loopback: an IOC placed
through REST, its fills from the private ``orders`` channel, each trade id once.
"""

from __future__ import annotations

import asyncio
import time

import msgspec

from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import to_raw
from arb.core.orders import Order
from arb.core.types import Side
from tests.integration._okx_helpers import run
from venues.okx.credentials import OkxCredentials
from venues.okx.rest import OkxRestClient
from venues.okx.rest_schemas import OkxOrderMsg
from venues.okx.sandbox import DEFAULT_ACCOUNT
from venues.okx.sandbox import start_sandbox
from venues.okx.signer import ws_login_args
from venues.okx.venue import OkxVenue
from venues.okx.venue import PushDedup
from venues.okx.venue import events_from_push
from venues.okx.venue import order_body
from venues.okx.ws import OkxWsClient

INST = Instrument.create(
    venue="okx",
    symbol="BTC-USDT",
    venue_symbol="BTC-USDT",
    kind=InstrumentKind.SPOT,
    base="BTC",
    quote="USDT",
    tick_size="0.1",
    lot_size="0.00000001",
    min_size="0.00001",
)


def place(order_type: OrderType, px: int = 600_000, qty: int = 100_000) -> PlaceOrder:
    return PlaceOrder(
        venue="okx", symbol="BTC-USDT", client_order_id="S1N1L0A0", side=Side.BUY,
        order_type=order_type, px=px, qty=qty, ts=0,
    )  # fmt: skip


def test_order_body_maps_types_and_formats_exact_decimals():
    assert order_body(place(OrderType.IOC), INST) == {
        "instId": "BTC-USDT", "tdMode": "cash", "clOrdId": "S1N1L0A0", "side": "buy",
        "ordType": "ioc", "sz": "0.00100000", "px": "60000.0",
    }  # fmt: skip
    assert order_body(place(OrderType.FOK), INST)["ordType"] == "fok"
    assert order_body(place(OrderType.LIMIT), INST)["ordType"] == "limit"
    market = order_body(place(OrderType.MARKET, px=0), INST)
    assert (market["ordType"], market["tgtCcy"]) == ("market", "base_ccy")
    assert "px" not in market


def push(**kw: str) -> OkxOrderMsg:
    base = {
        "instId": "BTC-USDT", "ordId": "7", "clOrdId": "S1N1L0A0", "state": "partially_filled",
        "side": "buy", "ordType": "ioc", "sz": "0.001", "uTime": "1700000000000",
    }  # fmt: skip
    return msgspec.convert(base | kw, OkxOrderMsg)


def test_fills_are_converted_once_per_trade_id_with_fees_charged_positive():
    seen = PushDedup()
    fill = push(
        tradeId="t1", fillPx="60000.1", fillSz="0.0004", fillFee="-0.024", fillFeeCcy="USDT",
        execType="T",
    )  # fmt: skip
    (ev,) = events_from_push(fill, INST, 5, seen)
    assert isinstance(ev, OrderFilled)
    assert (ev.px, ev.qty, ev.side, ev.liquidity) == (600_001, 40_000, Side.BUY, "taker")
    assert ev.fee == to_raw("0.024", AMOUNT_PRECISION)
    assert events_from_push(fill, INST, 6, seen) == []  # the same trade pushed again
    done = push(state="canceled", accFillSz="0.0004")
    (cancel,) = events_from_push(done, INST, 7, seen)
    assert isinstance(cancel, OrderCanceled)
    assert cancel.reason == "IOC_REMAINDER"
    assert events_from_push(done, INST, 8, seen) == []


def test_an_ioc_through_rest_and_its_fills_from_the_private_websocket():
    creds = OkxCredentials(
        DEFAULT_ACCOUNT.api_key, DEFAULT_ACCOUNT.secret, DEFAULT_ACCOUNT.passphrase
    )

    async def go() -> None:
        sb = await start_sandbox()
        try:
            async with OkxRestClient(creds, base_url=sb.base_url) as rest:
                spec = {i.instId: i for i in await rest.instruments("SPOT")}["BTC-USDT"]
                inst = Instrument.create(
                    venue="okx", symbol="BTC-USDT", venue_symbol="BTC-USDT",
                    kind=InstrumentKind.SPOT, base="BTC", quote="USDT", tick_size=spec.tickSz,
                    lot_size=spec.lotSz, min_size=spec.minSz,
                )  # fmt: skip
                venue = OkxVenue(rest, [inst], clock_ns=time.time_ns)
                ws = OkxWsClient(
                    sb.ws_private_url,
                    clock_ns=time.time_ns,
                    on_frame=venue.on_private_frame,
                    login=lambda: ws_login_args(
                        creds.api_key, creds.passphrase, creds.secret, int(time.time())
                    ),
                )
                stop = asyncio.Event()
                runner = asyncio.create_task(ws.run(stop))
                await ws.subscribe(
                    [{"channel": "orders", "instType": "SPOT"}, {"channel": "account"}]
                )
                for _ in range(500):  # <= 5 s: connected, logged in, subscribed
                    if ws.connected:
                        break
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.1)  # the subscriptions are acknowledged
                ask = (await rest.books("BTC-USDT", 5)).asks[0][0]
                cmd = PlaceOrder(
                    venue="okx", symbol="BTC-USDT", client_order_id="arbVenue1", side=Side.BUY,
                    order_type=OrderType.IOC, px=inst.px_to_raw(ask),
                    qty=inst.qty_to_raw(spec.minSz) * 10, ts=time.time_ns(),
                )  # fmt: skip
                order = Order.from_place(cmd, inst)
                venue.submit(cmd, time.time_ns())
                await venue.wait_idle()
                for _ in range(500):  # <= 5 s
                    for e in venue.advance(time.time_ns()):
                        order.apply(e)
                    if order.is_terminal:
                        break
                    await asyncio.sleep(0.01)
                stop.set()
                await runner
                assert order.is_terminal
                assert order.filled_qty > 0
                assert order.venue_order_id
                assert order.fees.get("USDT", 0) > 0  # charged, positive in arb
                assert venue.errors == {}
        finally:
            await sb.close()

    run(go())


def test_a_rejected_order_becomes_a_venue_neutral_reject():
    creds = OkxCredentials(
        DEFAULT_ACCOUNT.api_key, DEFAULT_ACCOUNT.secret, DEFAULT_ACCOUNT.passphrase
    )

    async def go() -> list[object]:
        sb = await start_sandbox()
        try:
            async with OkxRestClient(creds, base_url=sb.base_url) as rest:
                venue = OkxVenue(rest, [INST], clock_ns=time.time_ns)
                big = place(OrderType.LIMIT, px=600_000, qty=500 * 10**8)  # 500 BTC
                venue.submit(big, time.time_ns())
                await venue.wait_idle()
                return list(venue.advance(time.time_ns()))
        finally:
            await sb.close()

    (ev,) = run(go())
    assert isinstance(ev, OrderRejected)
    assert ev.reason == "INSUFFICIENT_BALANCE"
    assert not isinstance(ev, OrderAccepted)


def test_trade_fee_sign_convention_becomes_ppm_charged_positive():
    from venues.okx.rest_schemas import OkxFeeGroupMsg
    from venues.okx.rest_schemas import OkxTradeFeeMsg
    from venues.okx.venue import fee_ppm

    fee = OkxTradeFeeMsg(
        level="Lv1",
        feeGroup=[
            OkxFeeGroupMsg(taker="-0.001", maker="-0.0008", groupId="1"),
            OkxFeeGroupMsg(taker="-0.0005", maker="0.00005", groupId="2"),
        ],
    )
    assert fee_ppm(fee) == (1000, 800)  # 10 bps and 8 bps charged
    assert fee_ppm(fee, "2") == (500, -50)  # a maker rebate is negative in arb


def test_private_frames_update_balances_and_a_bad_frame_is_counted_not_raised():
    venue = OkxVenue(None, [INST], clock_ns=lambda: 1)  # type: ignore[arg-type]
    venue.on_private_frame(
        1,
        b'{"arg":{"channel":"account"},"data":[{"details":[{"ccy":"USDT","availBal":"12.5"}]}]}',
    )
    assert venue.balances() == {"USDT": to_raw("12.5", AMOUNT_PRECISION)}
    venue.on_private_frame(2, b'{"arg":{"channel":"orders"},"data":[{"instId": 5}]}')
    venue.on_private_frame(3, b"pong")
    venue.on_private_frame(4, b'{"event":"subscribe","arg":{"channel":"orders"}}')
    assert venue.errors == {"decode:ValidationError": 1}
    assert venue.advance(5) == []

"""The ccxt venue (``venues.ccxt``): ccxt's ``okx`` classes (async + pro) against the OKX sandbox.

Pure parts first (numbers, markets, the error table), then the venue end to end on loopback:
instruments from ``load_markets`` against the sandbox's own ``public/instruments``, an IOC at
the ask (accepted, fills with the sandbox's exact prices, sizes and fees, each trade once),
a resting limit cancelled, a reject for balance, and the book feed. Every request ccxt makes
(REST and WebSocket upgrades) is traced and must go to the sandbox on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from collections.abc import Callable

import aiohttp
import ccxt
import ccxt.pro as ccxt_pro
import msgspec
import pytest

from arb.core.errors import CrossedBook
from arb.core.errors import DecodeError
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
from tests.integration._okx_helpers import TracedSession
from tests.integration._okx_helpers import run
from venues.ccxt.books import CcxtBookFeed
from venues.ccxt.books import snapshot_from_book
from venues.ccxt.convert import exact
from venues.ccxt.errors import CcxtAuthError
from venues.ccxt.errors import CcxtOrderRejected
from venues.ccxt.errors import CcxtOutcomeUnknown
from venues.ccxt.errors import CcxtRateLimited
from venues.ccxt.errors import CcxtTransportError
from venues.ccxt.errors import CcxtUnavailable
from venues.ccxt.errors import RetryAction
from venues.ccxt.errors import classify
from venues.ccxt.errors import should_retry
from venues.ccxt.instruments import DECIMAL_PLACES
from venues.ccxt.instruments import from_venue_symbol
from venues.ccxt.instruments import instruments_from_markets
from venues.ccxt.instruments import to_venue_symbol
from venues.ccxt.venue import CcxtVenue
from venues.ccxt.venue import FeeRates
from venues.ccxt.venue import create_order_args
from venues.okx.sandbox import DEFAULT_ACCOUNT
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import start_sandbox

pytestmark = pytest.mark.integration

VENUE = "okxccxt"

# -- pure: numbers, symbols, markets ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1e-08, "0.00000001"), (0.1, "0.1"), (60000.4, "60000.4"), (100, "100"), ("0.50", "0.5"),
     (1e2, "100"), (-0.0600004, "-0.0600004"), (0.0, "0")],
)  # fmt: skip
def test_exact_recovers_the_venue_decimal_from_ccxt_floats(value, expected):
    assert exact(value, "x") == expected


@pytest.mark.parametrize("garbage", [None, True, float("nan"), float("inf"), "abc", [1]])
def test_exact_refuses_garbage_with_a_decode_error(garbage):
    with pytest.raises(DecodeError, match="ccxt x"):
        exact(garbage, "x")


@pytest.mark.parametrize(
    ("ccxt_symbol", "canonical"),
    [("BTC/USDT", "BTC-USDT"), ("BTC/USDT:USDT", "BTC-USDT-PERP"),
     ("BTC/USD:BTC", "BTC-USD-PERP"), ("BTC/USD:BTC-220527", "BTC-USD-20220527")],
)  # fmt: skip
def test_symbols_round_trip(ccxt_symbol, canonical):
    assert from_venue_symbol(ccxt_symbol) == canonical
    settle = ccxt_symbol.partition(":")[2].partition("-")[0]
    assert to_venue_symbol(canonical, settle) == ccxt_symbol


def _market(symbol: str, type_: str, **kw: object) -> dict[str, object]:
    base, quote = symbol.split(":")[0].split("/")
    m: dict[str, object] = {
        "id": symbol, "symbol": symbol, "base": base, "quote": quote, "type": type_,
        "active": True, "precision": {"amount": 1e-08, "price": 0.1},
        "limits": {"amount": {"min": 1e-05}, "cost": {"min": 5.0}},
        "settle": None, "linear": None, "inverse": None, "contractSize": None, "expiry": None,
    }  # fmt: skip
    m.update(kw)
    return m


def test_markets_convert_to_instruments_of_every_kind_exactly():
    markets = {
        "BTC/USDT": _market("BTC/USDT", "spot"),
        "BTC/USDT:USDT": _market(
            "BTC/USDT:USDT", "swap", settle="USDT", linear=True, inverse=False,
            contractSize=0.01, precision={"amount": 1.0, "price": 0.1},
        ),
        "BTC/USD:BTC": _market(
            "BTC/USD:BTC", "swap", settle="BTC", linear=False, inverse=True, contractSize=100.0,
        ),
        "BTC/USD:BTC-220527": _market(
            "BTC/USD:BTC-220527", "future", settle="BTC", inverse=True, contractSize=100,
            expiry=1653638400000,
        ),
        "BTC/USD:BTC-220527-30000-C": _market("BTC/USD:BTC-220527-30000-C", "option"),
        "OLD/USDT": _market("OLD/USDT", "spot", active=False),
    }  # fmt: skip
    spot, linear, inverse, future = instruments_from_markets(VENUE, markets)
    assert (spot.symbol, spot.kind, spot.venue_symbol) == (
        "BTC-USDT",
        InstrumentKind.SPOT,
        "BTC/USDT",
    )
    assert (spot.tick_size, spot.lot_size, spot.min_size, spot.min_notional) == (
        "0.1",
        "0.00000001",
        "0.00001",
        "5",
    )
    assert (spot.price_precision, spot.size_precision, spot.contract_value) == (1, 8, "1")
    assert (linear.symbol, linear.lot_size, linear.contract_value, linear.inverse) == (
        "BTC-USDT-PERP",
        "1",
        "0.01",
        False,
    )
    assert (linear.contract_value_ccy, linear.settle) == ("BTC", "USDT")
    assert (inverse.symbol, inverse.inverse, inverse.contract_value_ccy) == (
        "BTC-USD-PERP",
        True,
        "USD",
    )
    assert (future.symbol, future.kind, future.expiry_ns) == (
        "BTC-USD-20220527",
        InstrumentKind.FUTURE,
        1653638400000 * 1_000_000,
    )


def test_decimal_places_precision_mode_gives_ticks():
    m = {"X/USDT": _market("X/USDT", "spot", precision={"amount": 3, "price": 2})}
    (inst,) = instruments_from_markets(VENUE, m, DECIMAL_PLACES)
    assert (inst.tick_size, inst.lot_size) == ("0.01", "0.001")


@pytest.mark.parametrize(
    "bad",
    [{"precision": {"amount": None, "price": 0.1}}, {"precision": {"amount": 1e-8, "price": 0}},
     {"limits": {"amount": {"min": "lots"}}}, {"base": ""}],
)  # fmt: skip
def test_a_market_with_garbage_is_refused_naming_it(bad):
    with pytest.raises(DecodeError, match="BTC/USDT"):
        instruments_from_markets(VENUE, {"BTC/USDT": _market("BTC/USDT", "spot", **bad)})


# -- pure: the error table ---------------------------------------------------------------------

BACKOFF, QUERY, NONE, STOP = (
    RetryAction.BACKOFF, RetryAction.QUERY_ORDER, RetryAction.NONE, RetryAction.STOP
)  # fmt: skip
OKX_MIN = (
    'okx {"sCode":"51020","sMsg":"Your order should meet or exceed the minimum order amount."}'
)


@pytest.mark.parametrize(
    ("exc", "placing", "cls", "reject", "action"),
    [
        (ccxt.RateLimitExceeded("50011"), True, CcxtRateLimited, "RATE_LIMITED", BACKOFF),
        (ccxt.DDoSProtection("429"), False, CcxtRateLimited, "RATE_LIMITED", BACKOFF),
        (ccxt.ExchangeNotAvailable("50013"), True, CcxtUnavailable, "VENUE_BUSY", BACKOFF),
        (ccxt.OnMaintenance("50001"), True, CcxtUnavailable, "VENUE_BUSY", BACKOFF),
        (ccxt.RequestTimeout("t"), True, CcxtOutcomeUnknown, "OUTCOME_UNKNOWN", QUERY),
        (ccxt.NetworkError("reset"), True, CcxtOutcomeUnknown, "OUTCOME_UNKNOWN", QUERY),
        (ccxt.RequestTimeout("t"), False, CcxtTransportError, "VENUE_BUSY", BACKOFF),
        (ccxt.InsufficientFunds("51008"), True, CcxtOrderRejected, "INSUFFICIENT_BALANCE", NONE),
        (ccxt.InvalidOrder(OKX_MIN), True, CcxtOrderRejected, "BELOW_MIN_SIZE", NONE),
        (ccxt.InvalidOrder("okx 51121 Order quantity must be a multiple of the lot size."), True,
         CcxtOrderRejected, "OFF_LOT", NONE),
        (ccxt.InvalidOrder("binance Filter failure: PRICE_FILTER"), True, CcxtOrderRejected,
         "OFF_TICK", NONE),
        (ccxt.InvalidOrder("binance Filter failure: NOTIONAL"), True, CcxtOrderRejected,
         "BELOW_MIN_NOTIONAL", NONE),
        (ccxt.InvalidOrder("something else"), True, CcxtOrderRejected, "INVALID_ORDER", NONE),
        (ccxt.InvalidOrder('okx {"sCode":"51016","sMsg":"Duplicated clOrdId"}'), True,
         CcxtOrderRejected, "DUPLICATE_CLIENT_ORDER_ID", QUERY),
        (ccxt.BadSymbol("x"), True, CcxtOrderRejected, "UNKNOWN_SYMBOL", NONE),
        (ccxt.AuthenticationError("50113"), True, CcxtAuthError, "AUTH_REJECTED", STOP),
        (ccxt.PermissionDenied("50120"), False, CcxtAuthError, "AUTH_REJECTED", STOP),
        (ccxt.AccountSuspended("50007"), True, CcxtAuthError, "AUTH_REJECTED", STOP),
    ],
)  # fmt: skip
def test_ccxt_exceptions_map_to_the_error_tree_and_retry_table(exc, placing, cls, reject, action):
    err = classify(exc, VENUE, placing=placing)
    assert type(err) is cls
    assert (err.venue, err.code, err.reject) == (VENUE, type(exc).__name__, reject)
    assert should_retry(err) is action
    assert err.retryable is (action is BACKOFF)


def test_create_order_args_carry_client_id_time_in_force_and_exact_decimals():
    inst = Instrument.create(
        venue=VENUE, symbol="BTC-USDT", venue_symbol="BTC/USDT", kind=InstrumentKind.SPOT,
        base="BTC", quote="USDT", tick_size="0.1", lot_size="0.00000001",
    )  # fmt: skip
    cmd = PlaceOrder(
        venue=VENUE, symbol="BTC-USDT", client_order_id="S1L0A0", side=Side.BUY,
        order_type=OrderType.IOC, px=600_004, qty=100_000, ts=0,
    )  # fmt: skip
    assert create_order_args(cmd, inst) == (
        "BTC/USDT", "limit", "buy", "0.00100000", "60000.4",
        {"clientOrderId": "S1L0A0", "timeInForce": "IOC"},
    )  # fmt: skip
    market = msgspec.structs.replace(cmd, order_type=OrderType.MARKET, px=0)
    assert create_order_args(market, inst, "okx") == (
        "BTC/USDT", "market", "buy", "0.00100000", None,
        {"clientOrderId": "S1L0A0", "tgtCcy": "base_ccy"},
    )  # fmt: skip


def test_a_crossed_ccxt_book_is_refused():
    inst = Instrument.create(
        venue=VENUE, symbol="BTC-USDT", venue_symbol="BTC/USDT", kind=InstrumentKind.SPOT,
        base="BTC", quote="USDT", tick_size="0.1", lot_size="0.00000001",
    )  # fmt: skip
    book = {"bids": [[100.1, 1.0]], "asks": [[100.0, 1.0]], "timestamp": 1, "nonce": 5}
    with pytest.raises(CrossedBook):
        snapshot_from_book(book, inst, depth=5, channel="c", ts_recv=2)
    ok = snapshot_from_book({**book, "bids": [[99.9, 0.5]]}, inst, depth=5, channel="c", ts_recv=2)
    assert (ok.bids, ok.asks, ok.seq, ok.ts_event) == (
        [(999, 50_000_000)],
        [(1000, 10**8)],
        5,
        10**6,
    )


# -- against the sandbox -----------------------------------------------------------------------


def _exchange(sandbox: Sandbox, session: aiohttp.ClientSession, *, private: bool = True):
    keys = (
        {"apiKey": DEFAULT_ACCOUNT.api_key, "secret": DEFAULT_ACCOUNT.secret,
         "password": DEFAULT_ACCOUNT.passphrase}
        if private else {}
    )  # fmt: skip
    ex = ccxt_pro.okx({**keys, "session": session})
    ex.urls["api"] = {"rest": sandbox.base_url, "ws": sandbox.ws_public_url.rsplit("/", 1)[0]}
    return ex


Scenario = Callable[[Sandbox, object, CcxtVenue], Awaitable[None]]


async def _with_venue(scenario: Scenario, *, use_watch: bool = True) -> None:
    sandbox = await start_sandbox()
    traced = TracedSession()
    ex = _exchange(sandbox, traced.session)
    try:
        insts = instruments_from_markets(VENUE, await ex.load_markets(), ex.precisionMode)
        venue = CcxtVenue(
            ex, VENUE, insts, clock_ns=time.time_ns, poll_interval_s=0.2, use_watch=use_watch
        )
        await venue.start()
        try:
            await scenario(sandbox, ex, venue)
        finally:
            await venue.close()
    finally:
        await ex.close()
        await traced.session.close()
        await sandbox.close()
    traced.assert_only(sandbox)
    # watch_orders went to the sandbox; the poller uses REST only
    assert any(u.startswith("ws://") for u in traced.urls) is use_watch


async def _collect(venue: CcxtVenue, order: Order, wait_s: float = 5.0) -> list[OrderEvent]:
    events: list[OrderEvent] = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not order.is_terminal:
        for e in venue.advance(time.time_ns()):
            events.append(e)
            order.apply(e)
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # anything after the end would be a duplicate
    events.extend(venue.advance(time.time_ns()))
    return events


def _state(order: Order) -> OrderState:
    return order.state  # read through a call: mypy keeps no narrowing across events


def _px(venue: CcxtVenue, px: float, ticks: int = 0) -> int:
    inst = venue.instrument("BTC-USDT")
    return inst.px_to_raw(exact(px, "px")) + ticks * inst.tick_raw


def _cmd(venue: CcxtVenue, cid: str, order_type: OrderType, px: int, qty: str) -> PlaceOrder:
    inst = venue.instrument("BTC-USDT")
    return PlaceOrder(
        venue=VENUE, symbol="BTC-USDT", client_order_id=cid, side=Side.BUY,
        order_type=order_type, px=px, qty=inst.qty_to_raw(qty),
        ts=time.time_ns(),
    )  # fmt: skip


async def _raw_instruments(sandbox: Sandbox) -> list[dict[str, str]]:
    url = sandbox.base_url + "/api/v5/public/instruments?instType=SPOT"
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return list(json.loads(await r.text())["data"])


def test_instruments_from_load_markets_match_the_sandbox_instruments():
    async def scenario(sandbox: Sandbox, ex: object, venue: CcxtVenue) -> None:
        raw = {d["instId"]: d for d in await _raw_instruments(sandbox)}
        got = {i.venue_symbol.replace("/", "-"): i for i in venue.instruments.values()}
        assert set(got) == set(raw)
        for inst_id, d in raw.items():
            inst = got[inst_id]
            assert inst.symbol == inst_id
            assert (inst.tick_size, inst.lot_size, inst.min_size) == (
                d["tickSz"],
                d["lotSz"],
                d["minSz"],
            )
            assert inst.kind is InstrumentKind.SPOT
        fees = await venue.refresh_fees()  # okx: fetch_trading_fee per symbol
        assert fees["BTC-USDT"] == FeeRates(1_000, 800, "venue")
        balances = await venue.refresh_balances()
        assert balances["BTC"] == 2 * 10**AMOUNT_PRECISION
        assert balances["USDT"] == 100_000 * 10**AMOUNT_PRECISION

    run(_with_venue(scenario), timeout=10)


def test_an_ioc_at_the_ask_fills_with_exact_prices_sizes_and_fees_each_trade_once():
    async def scenario(sandbox: Sandbox, ex: object, venue: CcxtVenue) -> None:
        await asyncio.sleep(0.5)  # watch_orders subscribed (logged in)
        book = await ex.fetch_order_book("BTC/USDT", 5)  # type: ignore[attr-defined]
        cmd = _cmd(venue, "ccxtIoc1", OrderType.IOC, _px(venue, book["asks"][0][0], 20), "0.002")
        order = Order.from_place(cmd, venue.instrument("BTC-USDT"))
        venue.submit(cmd, time.time_ns())
        events = await _collect(venue, order)
        assert isinstance(events[0], OrderAccepted)
        assert order.state is OrderState.FILLED
        fills = [e for e in events if isinstance(e, OrderFilled)]
        records = [f for f in sandbox.fills() if f["clOrdId"] == "ccxtIoc1"]
        assert len(fills) == len(records) >= 1
        assert len({f.trade_id for f in fills}) == len(fills)  # each trade once
        inst = venue.instrument("BTC-USDT")
        expected = {
            r["tradeId"]: (inst.px_to_raw(r["fillPx"]), inst.qty_to_raw(r["fillSz"]),
                           -to_raw(r["fee"], AMOUNT_PRECISION), r["feeCcy"])
            for r in records
        }  # fmt: skip
        assert {f.trade_id: (f.px, f.qty, f.fee, f.fee_ccy) for f in fills} == expected
        assert all(f.fee > 0 and f.liquidity == "taker" for f in fills)
        assert sum(f.qty for f in fills) == cmd.qty
        assert not any(isinstance(e, (OrderCanceled, OrderRejected)) for e in events)
        assert order.venue_order_id == records[0]["ordId"]
        assert venue.errors == {}

    run(_with_venue(scenario), timeout=10)


def test_without_watch_orders_the_poller_delivers_fills_and_the_cancel():
    async def scenario(sandbox: Sandbox, ex: object, venue: CcxtVenue) -> None:
        assert not venue.watching
        book = await ex.fetch_order_book("BTC/USDT", 5)  # type: ignore[attr-defined]
        ioc = _cmd(venue, "ccxtPoll1", OrderType.IOC, _px(venue, book["asks"][0][0], 20), "0.001")
        taker = Order.from_place(ioc, venue.instrument("BTC-USDT"))
        venue.submit(ioc, time.time_ns())
        events = await _collect(venue, taker)
        assert _state(taker) is OrderState.FILLED
        fills = [e for e in events if isinstance(e, OrderFilled)]
        assert {f.trade_id for f in fills} == {
            f["tradeId"] for f in sandbox.fills() if f["clOrdId"] == "ccxtPoll1"
        }
        assert len(fills) == len({f.trade_id for f in fills})
        sandbox.faults.partial_fill_fraction = 0.5  # an IOC that fills half: its rest cancelled
        book = await ex.fetch_order_book("BTC/USDT", 5)  # type: ignore[attr-defined]
        half = _cmd(venue, "ccxtPoll2", OrderType.IOC, _px(venue, book["asks"][0][0], 50), "0.002")
        partial = Order.from_place(half, venue.instrument("BTC-USDT"))
        venue.submit(half, time.time_ns())
        events = await _collect(venue, partial)
        assert _state(partial) is OrderState.CANCELED
        (record,) = [o for o in sandbox.orders() if o["clOrdId"] == "ccxtPoll2"]
        assert record["state"] == "canceled"
        assert partial.filled_qty == venue.instrument("BTC-USDT").qty_to_raw(record["accFillSz"])
        assert 0 < partial.filled_qty < half.qty
        (cancel,) = [e for e in events if isinstance(e, OrderCanceled)]
        assert cancel.reason == "IOC_REMAINDER"
        assert isinstance(events[-1], OrderCanceled)  # after every fill

    run(_with_venue(scenario, use_watch=False), timeout=10)


def test_a_limit_far_from_the_market_rests_and_is_cancelled():
    async def scenario(sandbox: Sandbox, ex: object, venue: CcxtVenue) -> None:
        book = await ex.fetch_order_book("BTC/USDT", 5)  # type: ignore[attr-defined]
        inst = venue.instrument("BTC-USDT")
        far = _px(venue, book["bids"][0][0]) // 2
        cmd = _cmd(venue, "ccxtRest1", OrderType.LIMIT, far, "0.001")
        order = Order.from_place(cmd, inst)
        venue.submit(cmd, time.time_ns())
        await venue.wait_idle()
        for e in venue.advance(time.time_ns()):
            order.apply(e)
        assert order.state is OrderState.ACCEPTED
        assert venue.open_orders() == ["ccxtRest1"]
        venue.submit(
            CancelOrder(venue=VENUE, symbol="BTC-USDT", client_order_id="ccxtRest1", ts=0),
            time.time_ns(),
        )
        events = await _collect(venue, order)
        (cancel,) = [e for e in events if isinstance(e, OrderCanceled)]
        assert cancel.reason == "REQUESTED"
        assert _state(order) is OrderState.CANCELED
        assert not any(isinstance(e, OrderFilled) for e in events)
        assert {o["clOrdId"]: o["state"] for o in sandbox.orders()} == {"ccxtRest1": "canceled"}
        assert venue.open_orders() == []

    run(_with_venue(scenario), timeout=10)


def test_an_order_too_big_for_the_balance_is_rejected_insufficient_balance():
    async def scenario(sandbox: Sandbox, ex: object, venue: CcxtVenue) -> None:
        book = await ex.fetch_order_book("BTC/USDT", 5)  # type: ignore[attr-defined]
        cmd = _cmd(venue, "ccxtBig1", OrderType.IOC, _px(venue, book["asks"][0][0]), "500")
        venue.submit(cmd, time.time_ns())
        await venue.wait_idle()
        events = venue.advance(time.time_ns())
        assert [(type(e), getattr(e, "reason", "")) for e in events] == [
            (OrderRejected, "INSUFFICIENT_BALANCE")
        ]
        assert venue.errors == {"InsufficientFunds": 1}
        assert sandbox.orders() == []

    run(_with_venue(scenario), timeout=10)


def test_the_book_feed_yields_checked_books_from_watch_order_book():
    async def go() -> None:
        sandbox = await start_sandbox()
        traced = TracedSession()
        ex = _exchange(sandbox, traced.session, private=False)
        try:
            insts = instruments_from_markets(VENUE, await ex.load_markets(), ex.precisionMode)
            feed = CcxtBookFeed(ex, insts, clock_ns=time.time_ns, depth=10)
            assert feed.watching
            snaps = []
            async for snap in feed.books("BTC-USDT"):
                snaps.append(snap)
                if len(snaps) == 4:
                    break
        finally:
            await ex.close()
            await traced.session.close()
            await sandbox.close()
        traced.assert_only(sandbox)
        for s in snaps:
            assert (s.venue, s.symbol, s.partial) == (VENUE, "BTC-USDT", True)
            assert 0 < len(s.bids) <= 10
            assert 0 < len(s.asks) <= 10
            assert s.bids[0][0] < s.asks[0][0]
        assert feed.errors == {}

    run(go(), timeout=10)

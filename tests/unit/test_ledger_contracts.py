"""Ledger with contracts: positions, realised PnL, fees, margin, reservations and funding.

Instruments are Binance's as ``inferred_instrument`` builds them: USD-M ``BTCUSDT`` (linear,
one contract = 1 BTC, lot 0.001, settled in USDT) and COIN-M ``BTCUSD_PERP`` (inverse, one
contract = 100 USD, settled in BTC). Every amount is computed by hand; the property test at the
end drives a ``SimVenue`` and the ``Ledger`` with the same fills and funding and asks for the
same totals, positions and available balances.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.contracts import quote_notional
from arb.core.events import BookSnapshot
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.ledger import Ledger
from arb.core.ledger import base_amount
from arb.core.messages import OrderFilled
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.numbers import to_raw
from arb.core.orders import Order
from arb.core.positions import ContractSpec
from arb.core.positions import Position
from arb.core.positions import PositionState
from arb.core.positions import is_contract
from arb.core.positions import order_reservation
from arb.core.types import Side
from venues.binance.instruments import inferred_instrument
from venues.sim import FundingSpec
from venues.sim import SimVenue
from venues.sim import SimVenueConfig

UM = "binance-usdm"
CM = "binance-coinm"
LIN = inferred_instrument(UM, "BTCUSDT", 1, 3)  # BTC-USDT-PERP, tick 0.1, lot 0.001, cv 1 BTC
INV = inferred_instrument(CM, "BTCUSD_PERP", 1, 0)  # BTC-USD-PERP, tick 0.1, lot 1, cv 100 USD
H = 3_600 * 10**9


def amt(s: str) -> int:
    return to_raw(s, 18)


def px(s: str) -> int:
    return to_raw(s, 1)


_trade_ids = itertools.count(1)


def fill(
    inst: Instrument, cid: str, side: Side, qty: int, price: int, fee: int, fee_ccy: str = ""
) -> OrderFilled:
    return OrderFilled(
        venue=inst.venue,
        client_order_id=cid,
        trade_id=f"T{next(_trade_ids)}",
        side=side,
        px=price,
        qty=qty,
        fee=fee,
        fee_ccy=fee_ccy or inst.settle,
        liquidity="taker",
        ts_event=0,
        ts_recv=0,
    )


def pos(led: Ledger, inst: Instrument) -> Position:
    p = led.position(inst.venue, inst.symbol)
    assert p is not None
    return p


# -- linear (USD-M) -------------------------------------------------------------------------


def test_linear_open_add_reduce_flip_close_with_fees_and_funding():
    led = Ledger({UM: {"USDT": amt("50000")}}, leverage={UM: 5})
    # open: buy 1 BTC at 60000.0: reserves margin 60000 / 5 = 12000 and the fee 5 bps = 30
    assert led.reserve_order(LIN, "a", Side.BUY, px("60000.0"), 1000, 500) == ("USDT", amt("12030"))
    assert led.available[UM] == {"USDT": amt("37970")}
    base, notional = led.on_fill(LIN, fill(LIN, "a", Side.BUY, 1000, px("60000.0"), amt("30")))
    assert (base, notional) == (amt("1"), amt("60000"))  # exposure, nothing delivered
    assert led.totals[UM] == {"USDT": amt("49970")}
    assert led.reserved[UM] == {"USDT": 0}  # the fill used the reservation up
    assert led.margin[UM] == {"USDT": amt("12000")}
    led.release(UM, "a")
    assert led.available[UM] == {"USDT": amt("37970")}
    p = pos(led, LIN)
    assert (p.contracts, p.entry_px, p.cost, p.margin, p.settle) == (
        1000,
        600000,
        amt("60000"),
        amt("12000"),
        "USDT",
    )
    # add 1 at 60100.0: average entry 60050.0, fee 30.05
    led.on_fill(LIN, fill(LIN, "b", Side.BUY, 1000, px("60100.0"), amt("30.05")))
    p = pos(led, LIN)
    assert (p.contracts, p.entry_px, p.cost, p.margin) == (
        2000,
        600500,
        amt("120100"),
        amt("24020"),
    )
    # reduce 0.5 at 59900.0: (59900 - 60050) x 0.5 = -75; only the fee is reserved
    assert led.reservation(LIN, Side.SELL, px("59900.0"), 500, 500) == ("USDT", amt("14.975"))
    led.on_fill(LIN, fill(LIN, "c", Side.SELL, 500, px("59900.0"), amt("14.975")))
    p = pos(led, LIN)
    assert (p.contracts, p.cost, p.margin, p.realised_pnl) == (
        1500,
        amt("90075"),
        amt("18015"),
        amt("-75"),
    )
    assert led.totals[UM] == {"USDT": amt("49939.95") - amt("75") - amt("14.975")}
    # flip: sell 2.5 at 59900.0 closes 1.5 (-225) and opens a short of 1: its margin 11980 is
    # reserved on top of the fee 74.875 (the margin the close frees is not counted)
    assert led.reservation(LIN, Side.SELL, px("59900.0"), 2500, 500) == (
        "USDT",
        amt("11980") + amt("74.875"),
    )
    led.on_fill(LIN, fill(LIN, "d", Side.SELL, 2500, px("59900.0"), amt("74.875")))
    p = pos(led, LIN)
    assert (p.contracts, p.entry_px, p.cost, p.margin, p.realised_pnl) == (
        -1000,
        599000,
        amt("59900"),
        amt("11980"),
        amt("-300"),
    )
    # funding: the short receives 0.01 % of 59900
    led.on_funding(UM, LIN.symbol, amt("5.99"), "USDT")
    assert pos(led, LIN).funding == amt("5.99")
    # close: buy 1 at 59800.0: the short makes 100; fee 29.9
    led.on_fill(LIN, fill(LIN, "e", Side.BUY, 1000, px("59800.0"), amt("29.9")))
    p = pos(led, LIN)
    assert (p.contracts, p.entry_px, p.cost, p.margin) == (0, 0, 0, 0)
    assert (p.realised_pnl, p.fees, p.funding) == (amt("-200"), amt("179.8"), amt("5.99"))
    end = amt("50000") - amt("200") - amt("179.8") + amt("5.99")
    assert led.totals[UM] == led.available[UM] == {"USDT": end}
    assert led.margin[UM] == {"USDT": 0}
    assert led.fees == {"USDT": amt("179.8")}
    assert led.change() == {"USDT": end - amt("50000")}
    assert led.positions == {UM: {LIN.symbol: p}}


def test_contract_margin_follows_the_venues_leverage_default_fully_collateralised():
    full = Ledger({UM: {"USDT": amt("100000")}})
    full.on_fill(LIN, fill(LIN, "a", Side.BUY, 1000, px("60000.0"), 0))
    assert full.margin[UM] == {"USDT": amt("60000")}
    assert full.available[UM] == {"USDT": amt("40000")}
    ten = Ledger({UM: {"USDT": amt("100000")}}, leverage={UM: 10, CM: 3})
    ten.on_fill(LIN, fill(LIN, "a", Side.BUY, 1000, px("60000.0"), 0))
    assert ten.available[UM] == {"USDT": amt("94000")}
    with pytest.raises(ValueError, match="leverage"):
        Ledger({UM: {}}, leverage={UM: 0})


def test_orders_in_flight_on_one_side_do_not_both_count_as_closing():
    led = Ledger({UM: {"USDT": amt("20000")}}, leverage={UM: 5})
    led.on_fill(LIN, fill(LIN, "a", Side.BUY, 1000, px("60000.0"), 0))  # long 1
    assert led.reserve_order(LIN, "s1", Side.SELL, px("61000.0"), 1000, 200) == (
        "USDT",
        amt("12.2"),
    )
    # s1 may close the long first: s2 would open a short of 1 at 61000.0
    assert led.reserve_order(LIN, "s2", Side.SELL, px("61000.0"), 1000, 200) == (
        "USDT",
        amt("12200") + amt("12.2"),
    )
    # a buy is not affected by the sells in flight: it opens (no short to close)
    assert led.reservation(LIN, Side.BUY, px("61000.0"), 1000, 200)[1] == amt("12212.2")
    # s1 fills half: what is left of it still counts
    led.on_fill(LIN, fill(LIN, "s1", Side.SELL, 500, px("61000.0"), amt("6.1")))
    assert led.reservation(LIN, Side.SELL, px("61000.0"), 500, 0) == ("USDT", amt("6100"))
    led.release(UM, "s1")  # its rest cancelled: 0.5 is closable again, less s2's 1
    assert led.reservation(LIN, Side.SELL, px("61000.0"), 500, 0) == ("USDT", amt("6100"))
    led.release(UM, "s2")
    assert led.reservation(LIN, Side.SELL, px("61000.0"), 500, 0) == ("USDT", 0)
    # a fill completing an order in flight ends its count too
    led.reserve_order(LIN, "s3", Side.SELL, px("61000.0"), 500, 0)
    led.on_fill(LIN, fill(LIN, "s3", Side.SELL, 500, px("61000.0"), 0))
    assert led.reservation(LIN, Side.SELL, px("61000.0"), 1000, 0) == ("USDT", amt("12200"))
    led.release(UM, "s3")
    led.release(UM, "never-sent")  # nothing to give back
    assert led.reserved[UM] == {"USDT": 0}
    assert led.available[UM] == led.totals[UM]


def test_contract_reservation_without_a_price_is_zero_and_spot_is_unchanged():
    assert Ledger({}).reservation(LIN, Side.BUY, 0, 1000, 500) == ("USDT", 0)
    spot = Instrument.create(
        venue=UM,
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size="0.01",
        lot_size="0.0001",
    )
    led = Ledger({UM: {"USDT": amt("1000"), "BTC": amt("1")}})
    assert led.reservation(spot, Side.BUY, 6000000, 10, 1000) == ("USDT", amt("60.06"))
    assert led.reservation(spot, Side.SELL, 6000000, 10, 1000) == ("BTC", amt("0.001"))
    assert led.reserve_order(spot, "x", Side.SELL, 6000000, 10, 1000) == ("BTC", amt("0.001"))
    assert led.available[UM] == {"USDT": amt("1000"), "BTC": amt("0.999")}
    assert led.on_fill(spot, fill(spot, "x", Side.SELL, 10, 6000000, amt("0.06"), "USDT")) == (
        amt("0.001"),
        amt("60"),
    )
    led.release(UM, "x")
    assert led.positions == {}
    assert led.totals[UM] == led.available[UM] == {"USDT": amt("1059.94"), "BTC": amt("0.999")}


def test_a_fee_in_another_currency_is_not_a_position_fee():
    led = Ledger({UM: {"USDT": amt("100000"), "BNB": amt("1")}})
    led.reserve_order(LIN, "a", Side.BUY, px("60000.0"), 1000, 0)
    led.on_fill(LIN, fill(LIN, "a", Side.BUY, 1000, px("60000.0"), amt("0.05"), "BNB"))
    assert pos(led, LIN).fees == 0
    assert led.fees == {"BNB": amt("0.05")}
    assert led.totals[UM] == {"USDT": amt("100000"), "BNB": amt("0.95")}
    # funding in a currency that is not the settle one moves cash only; unknown position too
    led.on_funding(UM, LIN.symbol, amt("1"), "BNB")
    led.on_funding(UM, "ETH-USDT-PERP", amt("2"), "USDT")
    assert pos(led, LIN).funding == 0
    assert led.totals[UM] == {"USDT": amt("100002"), "BNB": amt("1.95")}
    assert led.position(UM, "ETH-USDT-PERP") is None


# -- inverse (COIN-M) -----------------------------------------------------------------------


def test_inverse_open_add_reduce_flip_close_in_btc_with_fees_and_funding():
    led = Ledger({CM: {"BTC": amt("1")}}, leverage={CM: 5})
    # open: 10 contracts (1000 USD) at 50000.0 = 0.02 BTC: margin 0.004, fee 5 bps 0.00001
    assert led.reserve_order(INV, "a", Side.BUY, px("50000.0"), 10, 500) == (
        "BTC",
        amt("0.00401"),
    )
    base, notional = led.on_fill(INV, fill(INV, "a", Side.BUY, 10, px("50000.0"), amt("0.00001")))
    assert (base, notional) == (amt("0.02"), amt("1000"))  # BTC exposure, USD face value
    led.release(CM, "a")
    p = pos(led, INV)
    assert (p.contracts, p.entry_px, p.cost, p.margin, p.settle) == (
        10,
        500000,
        amt("0.02"),
        amt("0.004"),
        "BTC",
    )
    assert led.available[CM] == {"BTC": amt("1") - amt("0.00001") - amt("0.004")}
    # add 10 at 40000.0 = 0.025 BTC: average entry 2000 / 0.045 = 44444.4
    led.on_fill(INV, fill(INV, "b", Side.BUY, 10, px("40000.0"), amt("0.0000125")))
    p = pos(led, INV)
    assert (p.contracts, p.entry_px, p.cost, p.margin) == (20, 444444, amt("0.045"), amt("0.009"))
    # reduce 10 at 62500.0: 0.0225 - 0.016 = 0.0065 BTC
    led.on_fill(INV, fill(INV, "c", Side.SELL, 10, px("62500.0"), amt("0.000008")))
    p = pos(led, INV)
    assert (p.contracts, p.cost, p.realised_pnl) == (10, amt("0.0225"), amt("0.0065"))
    # flip: 20 at 80000.0 closes 10 for 0.0225 - 0.0125 = 0.01 and opens a short of 10: its
    # margin 0.0125 / 5 = 0.0025 and the fee on 0.025 BTC are reserved
    assert led.reservation(INV, Side.SELL, px("80000.0"), 20, 500) == (
        "BTC",
        amt("0.0025") + amt("0.0000125"),
    )
    led.on_fill(INV, fill(INV, "d", Side.SELL, 20, px("80000.0"), amt("0.0000125")))
    p = pos(led, INV)
    assert (p.contracts, p.entry_px, p.cost, p.margin, p.realised_pnl) == (
        -10,
        800000,
        amt("0.0125"),
        amt("0.0025"),
        amt("0.0165"),
    )
    # funding: the short pays 0.01 % of 1000 USD at a mark of 62500 = 0.0000016 BTC
    led.on_funding(CM, INV.symbol, -amt("0.0000016"), "BTC")
    # close: buy 10 at 62500.0: 1000 x (1/62500 - 1/80000) = 0.0035 BTC
    led.on_fill(INV, fill(INV, "e", Side.BUY, 10, px("62500.0"), amt("0.000008")))
    p = pos(led, INV)
    assert (p.contracts, p.cost, p.margin) == (0, 0, 0)
    assert (p.realised_pnl, p.fees, p.funding) == (amt("0.02"), amt("0.000051"), -amt("0.0000016"))
    end = amt("1.02") - amt("0.000051") - amt("0.0000016")
    assert led.totals[CM] == led.available[CM] == {"BTC": end}


def test_inverse_values_round_against_the_account():
    led = Ledger({CM: {"BTC": amt("1")}})
    # 100 USD at 60000.0 = 0.0016666... BTC: a long's round trip at one price loses 1e-18
    led.on_fill(INV, fill(INV, "a", Side.BUY, 1, px("60000.0"), 0))
    assert pos(led, INV).cost == 1_666_666_666_666_666
    assert led.margin[CM] == {"BTC": 1_666_666_666_666_666}
    led.on_fill(INV, fill(INV, "b", Side.SELL, 1, px("60000.0"), 0))
    assert pos(led, INV).realised_pnl == -1
    assert led.totals[CM] == {"BTC": amt("1") - 1}


def test_base_amount_refuses_an_inverse_contract():
    assert base_amount(LIN, 1500) == amt("1.5")
    with pytest.raises(ValueError, match="inverse"):
        base_amount(INV, 10)


def test_order_notional_of_an_inverse_contract_is_its_face_value():
    cmd = PlaceOrder(
        venue=CM,
        symbol=INV.symbol,
        client_order_id="o",
        side=Side.BUY,
        order_type=OrderType.IOC,
        px=px("50000.0"),
        qty=20,
        ts=0,
    )
    o = Order.from_place(cmd, INV)
    o.apply(fill(INV, "o", Side.BUY, 10, px("50000.0"), 0))
    o.apply(fill(INV, "o", Side.BUY, 10, px("40000.0"), 0))
    assert o.notional == amt("2000")  # 20 contracts x 100 USD, whatever the prices
    assert o.fill_value == 10 * px("50000.0") + 10 * px("40000.0")
    assert o.avg_px == px("45000.0")
    lin = Order.from_place(
        PlaceOrder(
            venue=UM,
            symbol=LIN.symbol,
            client_order_id="l",
            side=Side.SELL,
            order_type=OrderType.IOC,
            px=px("60000.0"),
            qty=1500,
            ts=0,
        ),
        LIN,
    )
    lin.apply(fill(LIN, "l", Side.SELL, 1500, px("60000.0"), 0))
    assert lin.notional == amt("90000")


# -- the shared position maths ---------------------------------------------------------------


def test_contract_spec_values_are_the_contract_maths():
    lin, inv = ContractSpec(LIN), ContractSpec(INV)
    assert (lin.valid, lin.settle, inv.valid, inv.settle) == (True, "USDT", True, "BTC")
    assert lin.value(1500, px("60000.0"), up=False) == amt("90000")
    assert lin.value(1, px("60000.3"), up=True) == quote_notional(LIN, 600003, 1, round_up=True)
    assert inv.value(1, px("60000.0"), up=False) == 1_666_666_666_666_666
    assert inv.value(1, px("60000.0"), up=True) == 1_666_666_666_666_667
    assert inv.face(3) == amt("300")  # USD: the minimum-notional check of an inverse
    assert lin.face(1500) == amt("1.5")  # BTC
    # a book mid of half a tick stays exact
    assert lin.value_fraction(1000, 2 * 600000 + 1, 2) == Fraction(amt("60000.05"))
    assert inv.value_fraction(1, 600000) == Fraction(amt("100"), 60000)
    assert inv.entry_px(0, 5, 1) == inv.entry_px(5, 0, 1) == 0
    assert not ContractSpec(msgspec.structs.replace(LIN, contract_value="0")).valid
    assert is_contract(LIN)
    assert is_contract(inferred_instrument(CM, "BTCUSD_240927", 1, 0))


def test_order_reservation_closes_first_then_adds_margin():
    spec = ContractSpec(LIN)
    pieces = [(px("60000.0"), 1000, 500), (px("61000.0"), 1000, -100)]
    # the first contract closes: margin of the second only; a rebate counts as no fee
    assert order_reservation(spec, pieces, 1000, 5) == (amt("12200"), amt("30"))
    assert order_reservation(spec, pieces, 2000, 5) == (0, amt("30"))
    assert order_reservation(spec, pieces, 0, 1) == (amt("121000"), amt("30"))
    # a position's state is what a fill did to it
    st = PositionState(spec)
    assert st.fill(Side.SELL, px("60000.0"), 1000) == 0
    assert (st.reducible(Side.BUY), st.reducible(Side.SELL)) == (1000, 0)
    assert st.margin_for(7) == -(-amt("60000") // 7)


# -- the ledger agrees with the simulated venue ----------------------------------------------


def until(v: SimVenue, t: int) -> list[Any]:
    out: list[Any] = []
    while (d := v.due()) is not None and d <= t:
        out += v.advance(d)
    out += v.advance(t)
    return out


step_st = st.tuples(
    st.booleans(),  # buy
    st.integers(1, 40),  # qty (lots)
    st.integers(40_000, 80_000),  # price (whole units)
    st.sampled_from([OrderType.IOC, OrderType.LIMIT, OrderType.MARKET]),
    st.integers(-3, 3),  # limit offset in ticks (LIMIT may rest)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inverse=st.booleans(),
    leverage=st.integers(1, 10),
    fees=st.tuples(st.integers(0, 1000), st.integers(-200, 500)),
    rate=st.integers(-200_000, 200_000),
    rich=st.booleans(),
    steps=st.lists(step_st, min_size=1, max_size=20),
)
def test_sim_venue_and_ledger_end_with_the_same_totals_positions_and_available(
    inverse, leverage, fees, rate, rich, steps
):
    # a poor account runs into margin refusals; lots of 0.025 BTC (linear) or 100 USD (inverse)
    inst, venue, ccy, lot = (INV, CM, "BTC", 1) if inverse else (LIN, UM, "USDT", 25)
    balance = ("2" if rich else "0.01") if inverse else ("100000" if rich else "2000")
    cfg = SimVenueConfig(
        balances={ccy: balance},
        taker_fee_ppm=fees[0],
        maker_fee_ppm=fees[1],
        leverage=leverage,
        funding=FundingSpec(rate_ppb=rate, interval_h=8, first_ns=0),
    )
    sim = SimVenue(venue, [inst], cfg)
    led = Ledger({venue: sim.balances()}, leverage={venue: leverage})
    orders: dict[str, Order] = {}

    def feed(events: list[Any]) -> None:
        for e in events:
            event(type(e).__name__ + (getattr(e, "reason", "") or getattr(e, "liquidity", "")))
            o = orders[e.client_order_id]
            if o.apply(e) and isinstance(e, OrderFilled):
                led.on_fill(inst, e)
            if o.is_terminal:
                led.release(venue, e.client_order_id)
        for pay in sim.take_funding_payments():
            event("funding")
            led.on_funding(pay.venue, pay.symbol, pay.amount, pay.ccy)

    for i, (buy, q, whole, otype, off) in enumerate(steps):
        t = i * 3 * H
        p = whole * 10 + 3  # an odd tenth: inverse values are rarely exact
        sim.on_market(
            BookSnapshot(
                venue=venue,
                symbol=inst.symbol,
                channel="depth",
                ts_event=t,
                ts_recv=t,
                bids=[(p - 10, 30 * lot), (p - 20, 30 * lot)],
                asks=[(p + 10, 30 * lot), (p + 20, 30 * lot)],
            )
        )
        feed(until(sim, t))  # resting orders the book filled, funding due by t
        side = Side.BUY if buy else Side.SELL
        limit = 0 if otype is OrderType.MARKET else p + 10 * int(side) + 10 * off
        cmd = PlaceOrder(
            venue=venue,
            symbol=inst.symbol,
            client_order_id=f"o{i}",
            side=side,
            order_type=otype,
            px=limit,
            qty=q * lot,
            ts=t,
        )
        orders[cmd.client_order_id] = Order.from_place(cmd, inst)
        led.reserve_order(inst, cmd.client_order_id, side, limit or p, cmd.qty, fees[0])
        sim.submit(cmd, t)
        feed(until(sim, t))
        assert led.totals[venue] == sim.totals()
        assert led.positions.get(venue, {}) == sim.positions()
    # cancel what rests, then nothing is in flight: available agrees too
    end = len(steps) * 3 * H
    for o in orders.values():
        if not o.is_terminal:
            sim.submit(o.request_cancel(end), end)
    feed(until(sim, end + H))
    assert all(o.is_terminal for o in orders.values())
    assert led.totals[venue] == sim.totals()
    assert led.positions.get(venue, {}) == sim.positions()
    assert led.available[venue] == sim.balances()
    assert all(x == 0 for x in led.reserved[venue].values())
    assert led.margin[venue].get(ccy, 0) == sim.margin().get(ccy, 0)

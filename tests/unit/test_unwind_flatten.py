"""Rollback planner, flatten rule: the residual the balanced legs leave in a non-home asset is
traded back against home on the leg that pairs them, under its own client order ids.

The triangle: USDT>BTC>ETH>USDT on one venue (the instruments of ``tri_world``): buy 0.01997
BTC at 50000.0, buy 0.399 ETH at 0.05000 BTC, sell 0.399 ETH at 2530.00. Fees in the quote and
zero unless said, so the residual is what the prices moved.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.instruments import Instrument
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.messages import client_order_id
from arb.core.opportunity import Leg
from arb.core.orders import Order
from arb.core.types import Side
from arb.core.unwind import DONE_BALANCED
from arb.core.unwind import DONE_EXHAUSTED
from arb.core.unwind import Decision
from arb.core.unwind import LegFills
from arb.core.unwind import Plan
from arb.core.unwind import UnwindConfig
from arb.core.unwind import plan
from arb.core.unwind import top_of_book_pricer
from arb.core.unwind import unit_value
from tests.unit.markets import TRI_BTC as BTC
from tests.unit.markets import TRI_ETH as ETH
from tests.unit.markets import TRI_ETHBTC as ETHBTC
from tests.unit.markets import UNIT
from tests.unit.markets import amt
from tests.unit.markets import spot

pytestmark = pytest.mark.unit

OPP = "t1"
MS = 1_000_000
START = 1_000 * MS
CFG = UnwindConfig(max_unwind_slippage_bps=20, escalation_slippage_bps=100)


def leg(symbol: str, side: Side, px: int, qty: int, venue: str = "okx") -> Leg:
    return Leg(venue=venue, symbol=symbol, side=side, px=px, qty=qty, expected_notional=0, fee=0)


TRI = (
    leg("BTC-USDT", Side.BUY, 500_000, 1997),
    leg("ETH-BTC", Side.BUY, 5000, 399),
    leg("ETH-USDT", Side.SELL, 253_000, 399),
)
MARKS = {"BTC": unit_value(BTC, 500_000), "ETH": unit_value(ETH, 253_000)}
TOPS = {
    ("okx", "BTC-USDT"): (499_900, 500_000),
    ("okx", "ETH-BTC"): (5099, 5100),
    ("okx", "ETH-USDT"): (252_900, 253_000),
}
PRICER = top_of_book_pricer(TOPS)

_trade = 0


def order(
    leg: Leg,
    inst: Instrument,
    k: int,
    attempt: int,
    side: Side,
    qty: int,
    filled: int,
    px: int,
    *,
    fee: int = 0,
    fee_ccy: str = "",
    reject: str = "",
) -> Order:
    """Order ``<OPP>L<k>A<attempt>`` on ``leg``'s instrument: ``filled`` at ``px``, the rest
    cancelled (IOC), or rejected with ``reject``."""
    global _trade
    cid = client_order_id(OPP, k, attempt)
    cmd = PlaceOrder(
        venue=leg.venue,
        symbol=leg.symbol,
        client_order_id=cid,
        side=side,
        order_type=OrderType.IOC,
        px=px,
        qty=qty,
        ts=START,
        opportunity_id=OPP,
    )
    o = Order.from_place(cmd, inst)
    v = leg.venue
    if reject:
        o.apply(OrderRejected(venue=v, client_order_id=cid, reason=reject, ts_event=1, ts_recv=1))
        return o
    o.apply(OrderAccepted(venue=v, client_order_id=cid, venue_order_id="V", ts_event=1, ts_recv=1))
    if filled:
        _trade += 1
        o.apply(
            OrderFilled(
                venue=v,
                client_order_id=cid,
                trade_id=f"T{_trade}",
                side=side,
                px=px,
                qty=filled,
                fee=fee,
                fee_ccy=fee_ccy or inst.quote,
                liquidity="taker",
                ts_event=2,
                ts_recv=2,
            )
        )
    if filled < qty:
        o.apply(OrderCanceled(venue=v, client_order_id=cid, reason="IOC", ts_event=3, ts_recv=3))
    return o


def triangle(hedge_px: int) -> list[LegFills]:
    """Legs 0 and 2 filled at their limits; leg 1's own order missed and its hedge (leg
    n + 1 = 4) filled all 399 at ``hedge_px``."""
    insts = (BTC, ETHBTC, ETH)
    fills = (1997, 0, 399)
    legs = [
        LegFills(
            leg=leg,
            inst=inst,
            orders=(order(leg, inst, i, 0, leg.side, leg.qty, f, leg.px),),
        )
        for i, (leg, inst, f) in enumerate(zip(TRI, insts, fills, strict=True))
    ]
    hedge = order(TRI[1], ETHBTC, 4, 0, Side.BUY, 399, 399, hedge_px)
    legs[1] = msgspec.structs.replace(legs[1], rollbacks=(hedge,))
    return legs


def run(legs, *, pricer=PRICER, config: UnwindConfig = CFG, now_ms: int = 100) -> Plan:
    return plan(
        OPP, "USDT", legs, pricer, MARKS, config, now_ns=START + now_ms * MS, start_ns=START
    )


def with_rollback(legs, i: int, o: Order) -> list[LegFills]:
    legs = list(legs)
    legs[i] = msgspec.structs.replace(legs[i], rollbacks=(*legs[i].rollbacks, o))
    return legs


def fill(legs, cmd: PlaceOrder, i: int, px: int | None = None, filled: int | None = None):
    """``cmd`` sent on leg ``i`` (its client order id kept) and filled at ``px``."""
    k = int(cmd.client_order_id[len(OPP) + 1 :].split("A")[0])
    attempt = int(cmd.client_order_id.split("A")[-1])
    qty = cmd.qty if filled is None else filled
    o = order(TRI[i], legs[i].inst, k, attempt, cmd.side, cmd.qty, qty, px or cmd.px)
    return with_rollback(legs, i, o)


# -- the rule --------------------------------------------------------------------------------


def test_a_middle_leg_hedge_at_a_worse_price_is_flattened_on_the_home_pair():
    # The hedge bought 0.399 ETH at 0.05100: 0.020349 BTC for the 0.01997 BTC leg 0 bought,
    # 0.000379 BTC short (-18.95 USDT at 50000). The legs are balanced (every fraction 1).
    legs = triangle(5100)
    p = run(legs)
    assert p.residual == {"BTC": -amt("18.95"), "ETH": 0}
    assert (p.decision, p.reason, p.direction) == (Decision.UNWIND, "UNWIND: flatten", "flatten")
    assert p.deltas == (38, 0, 0)  # 37.9 lots of 0.00001 BTC -> 38, on leg 0's side
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    # BTC-USDT at the ask 50000.0 moved 20 bps: 50100.0; leg 2n + 0 = 6, attempt 0.
    assert (cmd.venue, cmd.symbol, cmd.side, cmd.qty, cmd.px, cmd.order_type) == (
        "okx",
        "BTC-USDT",
        Side.BUY,
        38,
        501_000,
        OrderType.IOC,
    )
    assert cmd.client_order_id == client_order_id(OPP, 6, 0) == "t1L6A0"


def test_a_filled_flatten_is_not_reversed_on_the_next_plan():
    legs = triangle(5100)
    (cmd,) = run(legs).commands
    assert isinstance(cmd, PlaceOrder)
    after = fill(legs, cmd, 0, px=500_000)
    p = run(after)
    # 0.00038 - 0.000379 = 0.000001 BTC long, a tenth of a lot: done, not an unwind of leg 0.
    assert (p.decision, p.reason, p.commands) == (Decision.DONE, DONE_BALANCED, ())
    assert p.residual == {"BTC": amt("0.05"), "ETH": 0}


def test_the_same_order_as_a_hedge_of_leg_0_would_be_reversed():
    # The id range is what keeps a flatten out of the leg's fill: the same fill numbered as a
    # rollback of leg 0 (n + 0 = 3) over-fills leg 0, and the planner unwinds it.
    legs = triangle(5100)
    as_hedge = order(TRI[0], BTC, 3, 0, Side.BUY, 38, 38, 500_000)
    p = run(with_rollback(legs, 0, as_hedge))
    assert p.decision is Decision.UNWIND
    assert p.direction == "unwind"
    assert p.deltas == (-38, 0, 0)


def test_a_partial_flatten_is_completed_with_the_next_attempt():
    legs = triangle(5100)
    (cmd,) = run(legs).commands
    assert isinstance(cmd, PlaceOrder)
    p = run(fill(legs, cmd, 0, px=500_000, filled=20))
    (nxt,) = p.commands
    assert isinstance(nxt, PlaceOrder)
    assert (nxt.side, nxt.qty, nxt.client_order_id) == (Side.BUY, 18, "t1L6A1")


def test_a_residual_within_tolerance_is_left_alone():
    legs = triangle(5100)
    p = run(legs, config=msgspec.structs.replace(CFG, residual_tolerance=amt("18.95")))
    assert (p.decision, p.reason, p.commands) == (Decision.DONE, DONE_BALANCED, ())
    p = run(legs, config=msgspec.structs.replace(CFG, residual_tolerance=amt("18.94")))
    assert p.direction == "flatten"


def test_a_residual_of_at_most_half_a_lot_stays():
    # A hedge at 0.05001 spends 0.01995399 BTC: 0.00001601 BTC long, 1.601 lots -> sell 2.
    legs = triangle(5001)
    (cmd,) = run(legs).commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.side, cmd.qty) == (Side.SELL, 2)
    # A sell at 49990.0 moved 20 bps: 49890.02 -> 49890.1 on the 0.1 tick (never past the bound).
    assert cmd.px == 498_901
    p = run(fill(legs, cmd, 0, px=499_900))
    assert (p.decision, p.reason) == (Decision.DONE, DONE_BALANCED)
    assert p.residual["BTC"] == -amt("0.1995")  # -0.00000399 BTC, 0.399 lots: stays


def test_a_flatten_below_the_minimum_order_stays():
    # BTC-USDT with a minimum of 0.00002 BTC (2 lots): 1.601 lots long round to 2, sent; with
    # a minimum of 0.00003 BTC they are dust, left in the residual (no round trip of the
    # minimum: it would cost more than the residual is worth).
    for min_size, sent in (("0.00002", 2), ("0.00003", 0)):
        legs = triangle(5001)
        legs[0] = msgspec.structs.replace(
            legs[0], inst=spot("BTC-USDT", "0.1", "0.00001", min_size=min_size)
        )
        p = run(legs)
        assert [c.qty for c in p.commands if isinstance(c, PlaceOrder)] == ([sent] if sent else [])
        if not sent:
            assert (p.decision, p.reason) == (Decision.DONE, DONE_BALANCED)
            assert p.residual["BTC"] == amt("0.8005")  # 0.00001601 BTC at 50000


# -- escalation, prices, refusals -------------------------------------------------------------


def test_an_escalating_plan_flattens_with_a_market_order():
    p = run(triangle(5100), now_ms=2_000)  # budget 3000 - lead 1000
    assert (p.decision, p.reason, p.direction) == (Decision.ESCALATE, "ESCALATE: budget", "flatten")
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.order_type, cmd.px, cmd.qty, cmd.client_order_id) == (
        OrderType.MARKET,
        0,
        38,
        "t1L6A0",
    )


def test_an_escalating_ioc_flatten_is_priced_at_the_escalation_slippage():
    cfg = msgspec.structs.replace(CFG, escalation_order_type=OrderType.IOC)
    (cmd,) = run(triangle(5100), config=cfg, now_ms=2_000).commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.order_type, cmd.px) == (OrderType.IOC, 505_000)  # 50000.0 + 100 bps
    # unpriced: from the leg's limit (50000.0)
    no_btc = top_of_book_pricer({k: v for k, v in TOPS.items() if k[1] != "BTC-USDT"})
    (cmd,) = run(triangle(5100), pricer=no_btc, config=cfg, now_ms=2_000).commands
    assert isinstance(cmd, PlaceOrder)
    assert cmd.px == 505_000


def test_an_unpriced_flatten_waits_for_a_price():
    no_btc = top_of_book_pricer({k: v for k, v in TOPS.items() if k[1] != "BTC-USDT"})
    p = run(triangle(5100), pricer=no_btc)
    assert (p.decision, p.reason, p.commands) == (Decision.WAIT, "WAIT: no_price", ())


def test_a_flatten_rejected_for_good_is_given_up():
    legs = triangle(5100)
    rejected = order(TRI[0], BTC, 6, 0, Side.BUY, 38, 0, 501_000, reject="INSUFFICIENT_BALANCE")
    p = run(with_rollback(legs, 0, rejected))
    assert (p.decision, p.reason, p.commands) == (Decision.DONE, "UNWIND_SKIPPED: rejected", ())


def test_flatten_orders_count_in_max_rollback_orders():
    cfg = UnwindConfig(max_attempts=1, max_rollback_orders=1)
    p = run(triangle(5100), config=cfg)  # the hedge of leg 1 is the one rollback order
    assert (p.decision, p.reason, p.commands) == (Decision.DONE, DONE_EXHAUSTED, ())


# -- which leg --------------------------------------------------------------------------------

A_BTC = spot("BTC-USDT", "0.01", "0.0001", venue="A")
B_BTC = spot("BTC-USDT", "0.01", "0.0001", venue="B")
BUY_A = leg("BTC-USDT", Side.BUY, 1_000_000, 10_000, venue="A")
SELL_B = leg("BTC-USDT", Side.SELL, 1_010_000, 10_000, venue="B")


def spatial(buy_fee_btc: str) -> list[LegFills]:
    """Both legs filled 1 BTC; the buy's fee charged in BTC (negative: a rebate)."""
    fee = amt(buy_fee_btc)
    buy = order(BUY_A, A_BTC, 0, 0, Side.BUY, 10_000, 10_000, 1_000_000, fee=fee, fee_ccy="BTC")
    sell = order(SELL_B, B_BTC, 1, 0, Side.SELL, 10_000, 10_000, 1_010_000)
    return [
        LegFills(leg=BUY_A, inst=A_BTC, orders=(buy,)),
        LegFills(leg=SELL_B, inst=B_BTC, orders=(sell,)),
    ]


def _spatial_plan(legs) -> Plan:
    pricer = top_of_book_pricer(
        {("A", "BTC-USDT"): (999_000, 1_001_000), ("B", "BTC-USDT"): (1_009_000, 1_011_000)}
    )
    marks = {"BTC": unit_value(A_BTC, 1_005_000)}
    return plan(OPP, "USDT", legs, pricer, marks, CFG, now_ns=START + MS, start_ns=START)


@pytest.mark.parametrize(
    ("fee", "venue", "side", "qty", "cid"),
    [
        ("0.001", "A", Side.BUY, 10, "t1L4A0"),  # short 0.001 BTC: buy where the leg bought
        ("-0.0005", "B", Side.SELL, 5, "t1L5A0"),  # long (a rebate): sell where the leg sold
    ],
)
def test_the_flatten_goes_to_the_leg_that_traded_its_side(fee, venue, side, qty, cid):
    (cmd,) = _spatial_plan(spatial(fee)).commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side, cmd.qty, cmd.client_order_id) == (venue, side, qty, cid)


@pytest.mark.parametrize(("rebate", "lots"), [("0.00005", 0), ("0.000051", 1)])
def test_exactly_half_a_lot_rounds_toward_zero(rebate, lots):
    # Spatial, lot 0.0001 BTC: a rebate of exactly half a lot stays, a little more is one lot.
    p = _spatial_plan(spatial(f"-{rebate}"))
    assert len(p.commands) == lots
    if not lots:
        assert (p.decision, p.reason) == (Decision.DONE, DONE_BALANCED)


@given(hedge_px=st.integers(min_value=4_900, max_value=5_100), btc_px=st.integers(490_000, 510_000))
@settings(max_examples=60, deadline=None)
def test_after_a_filled_flatten_the_plan_is_done_within_half_a_lot(hedge_px, btc_px):
    legs = triangle(hedge_px)
    p = run(legs)
    for cmd in p.commands:
        assert isinstance(cmd, PlaceOrder)
        assert cmd.client_order_id == "t1L6A0"
        legs = fill(legs, cmd, 0, px=btc_px)
    done = run(legs)
    assert (done.decision, done.reason, done.commands) == (Decision.DONE, DONE_BALANCED, ())
    # half a lot (0.000005 BTC) at the 50000 mark is 0.25 USDT
    assert abs(done.residual["BTC"]) <= amt("0.25")


def test_an_asset_no_leg_pairs_with_home_is_not_flattened():
    # Home EUR: no leg trades BTC (or USDT) against EUR, so the fee's BTC stays.
    marks = {"BTC": unit_value(A_BTC, 1_005_000), "USDT": UNIT}
    legs = spatial("0.001")
    p = plan(OPP, "EUR", legs, PRICER, marks, CFG, now_ns=START + MS, start_ns=START)
    assert (p.decision, p.reason, p.commands) == (Decision.DONE, DONE_BALANCED, ())
    assert p.residual["BTC"] < 0


@pytest.mark.parametrize(("cid_opp", "k"), [("t2", 6), (OPP, 3)])
def test_only_flatten_ids_of_this_opportunity_stay_out_of_the_leg_fill(cid_opp, k):
    # A rollback order numbered n + i, or of another id scheme, counts in the leg's fill as
    # before: the planner unwinds the excess it made.
    legs = triangle(5100)
    o = order(TRI[0], BTC, k, 0, Side.BUY, 38, 38, 500_000)
    o = msgspec.structs.replace(o, client_order_id=client_order_id(cid_opp, k, 0))
    p = run(with_rollback(legs, 0, o))
    assert (p.direction, p.deltas) == ("unwind", (-38, 0, 0))

"""Rollback planner: hedge or unwind by price, escalation, waits, ids, residual exposure."""

import msgspec
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.errors import InvariantViolation
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.messages import CancelOrder
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.messages import client_order_id
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import notional_amount
from arb.core.opportunity import Leg
from arb.core.orders import Order
from arb.core.orders import OrderState
from arb.core.types import Side
from arb.core.unwind import DONE_BALANCED
from arb.core.unwind import DONE_EXHAUSTED
from arb.core.unwind import DONE_WITHIN_TOLERANCE
from arb.core.unwind import Decision
from arb.core.unwind import LegFills
from arb.core.unwind import Plan
from arb.core.unwind import UnwindConfig
from arb.core.unwind import plan
from arb.core.unwind import residual_exposure
from arb.core.unwind import top_of_book_pricer
from arb.core.unwind import unit_value

pytestmark = pytest.mark.unit

OPP = "o1"
MS = 1_000_000
START = 1_000 * MS
Q = 10_000  # 1 BTC at lot 0.0001
UNIT = 10**AMOUNT_PRECISION
CFG = UnwindConfig(
    time_budget_ms=3000,
    escalation_lead_ms=1000,
    order_timeout_ms=500,
    max_hedge_slippage_bps=10,
    max_unwind_slippage_bps=20,
    escalation_slippage_bps=100,
    max_attempts=3,
)


def make_inst(venue: str, symbol: str = "BTC-USDT", lot: str = "0.0001", **kw) -> Instrument:
    base, quote = symbol.split("-")
    return Instrument.create(
        venue=venue,
        symbol=symbol,
        venue_symbol=base + quote,
        kind=InstrumentKind.SPOT,
        base=base,
        quote=quote,
        tick_size=kw.pop("tick", "0.01"),
        lot_size=lot,
        **kw,
    )


INST_A = make_inst("A")
INST_B = make_inst("B")
MARK = unit_value(INST_A, 10_050)  # 100.50 USDT per BTC
MARKS = {"BTC": MARK}
LEG_BUY = Leg(
    venue="A", symbol="BTC-USDT", side=Side.BUY, px=10_000, qty=Q, expected_notional=0, fee=0
)
LEG_SELL = Leg(
    venue="B", symbol="BTC-USDT", side=Side.SELL, px=10_100, qty=Q, expected_notional=0, fee=0
)

_trade_no = 0


def _events(order: Order, outcome: str, filled: int, px: int, reason: str = "X") -> None:
    global _trade_no
    cid, venue = order.client_order_id, order.venue
    if outcome == "rejected":
        order.apply(
            OrderRejected(venue=venue, client_order_id=cid, reason=reason, ts_event=1, ts_recv=1)
        )
        return
    order.apply(
        OrderAccepted(venue=venue, client_order_id=cid, venue_order_id="V", ts_event=1, ts_recv=1)
    )
    if filled:
        _trade_no += 1
        order.apply(
            OrderFilled(
                venue=venue,
                client_order_id=cid,
                trade_id=f"T{_trade_no}",
                side=order.side,
                px=px,
                qty=filled,
                fee=0,
                fee_ccy="USDT",
                liquidity="taker",
                ts_event=2,
                ts_recv=2,
            )
        )
    if outcome == "ioc" and filled < order.qty:
        order.apply(
            OrderCanceled(
                venue=venue, client_order_id=cid, reason="IOC_REMAINDER", ts_event=3, ts_recv=3
            )
        )


def leg_order(
    leg: Leg,
    inst: Instrument,
    leg_no: int,
    filled: int,
    outcome: str = "ioc",
    ts: int = START,
    attempt: int = 0,
) -> Order:
    """The leg's own order. outcome: 'ioc' (terminal), 'rejected', 'open' (in flight)."""
    cmd = PlaceOrder(
        venue=leg.venue,
        symbol=leg.symbol,
        client_order_id=client_order_id(OPP, leg_no, attempt),
        side=leg.side,
        order_type=OrderType.IOC,
        px=leg.px,
        qty=leg.qty,
        ts=ts,
        opportunity_id=OPP,
    )
    order = Order.from_place(cmd, inst)
    if outcome != "pending":
        _events(order, outcome, filled, leg.px)
    return order


def executed(cmd: PlaceOrder, inst: Instrument, px: int | None = None, filled: int | None = None):
    """A rollback order as if sent and (by default) fully filled at its limit."""
    order = Order.from_place(cmd, inst)
    _events(order, "ioc", cmd.qty if filled is None else filled, px or cmd.px)
    return order


def spatial(f_buy: int, f_sell: int, buy_outcome: str = "ioc", sell_outcome: str = "ioc"):
    return [
        LegFills(
            leg=LEG_BUY, inst=INST_A, orders=(leg_order(LEG_BUY, INST_A, 0, f_buy, buy_outcome),)
        ),
        LegFills(
            leg=LEG_SELL,
            inst=INST_B,
            orders=(leg_order(LEG_SELL, INST_B, 1, f_sell, sell_outcome),),
        ),
    ]


def books(a=(9_990, 10_010), b=(10_095, 10_110)):
    return top_of_book_pricer({("A", "BTC-USDT"): a, ("B", "BTC-USDT"): b})


def run(legs, pricer=None, now_ms: int = 100, config: UnwindConfig = CFG, marks=MARKS) -> Plan:
    return plan(
        OPP,
        "USDT",
        legs,
        pricer or books(),
        marks,
        config,
        now_ns=START + now_ms * MS,
        start_ns=START,
    )


def with_rollbacks(legs, i: int, *orders: Order):
    legs = list(legs)
    legs[i] = msgspec.structs.replace(legs[i], rollbacks=(*legs[i].rollbacks, *orders))
    return legs


def apply_plan(legs, p: Plan, pricer):
    """Execute a plan's orders as if they filled fully (market orders at the quoted price)."""
    for cmd in p.commands:
        assert isinstance(cmd, PlaceOrder)
        i = next(k for k, lf in enumerate(legs) if lf.leg.venue == cmd.venue)
        px = cmd.px or pricer(cmd.venue, cmd.symbol, cmd.side, cmd.qty)
        legs = with_rollbacks(legs, i, executed(cmd, legs[i].inst, px=px))
    return legs


# -- done ------------------------------------------------------------------------------------


def test_both_legs_filled_is_done():
    p = run(spatial(Q, Q))
    assert p.decision is Decision.DONE
    assert p.reason == DONE_BALANCED == "UNWIND_SKIPPED: residual_qty=0"
    assert p.commands == ()
    assert p.residual == {"BTC": 0}


def test_both_legs_rejected_is_done():
    p = run(spatial(0, 0, "rejected", "rejected"))
    assert (p.decision, p.reason) == (Decision.DONE, DONE_BALANCED)


def test_equal_partial_fills_are_balanced():
    p = run(spatial(4_000, 4_000))
    assert (p.decision, p.commands) == (Decision.DONE, ())


def test_residual_within_tolerance_is_done():
    legs = spatial(Q, Q - 1)  # 0.0001 BTC long ~ 0.01005 USDT
    assert run(legs).decision is Decision.HEDGE
    loose = msgspec.structs.replace(CFG, residual_tolerance=UNIT // 50)
    p = run(legs, config=loose)
    assert (p.decision, p.reason, p.commands) == (Decision.DONE, DONE_WITHIN_TOLERANCE, ())
    assert p.residual == {"BTC": MARK // Q}


# -- hedge or unwind by price ----------------------------------------------------------------


def test_one_leg_rejected_hedges_when_within_slippage():
    # sell leg rejected at limit 101.00; B bid 100.95 is 5 bps worse: within 10 bps
    p = run(spatial(Q, 0, sell_outcome="rejected"), books(b=(10_095, 10_110)))
    assert p.decision is Decision.HEDGE
    assert p.reason == "HEDGE: within_slippage"
    assert p.direction == "hedge"
    assert p.deltas == (0, Q)
    assert p.commands == (
        PlaceOrder(
            venue="B",
            symbol="BTC-USDT",
            client_order_id=client_order_id(OPP, 3, 0),
            side=Side.SELL,
            order_type=OrderType.IOC,
            px=10_090,  # 101.00 - 10 bps = 100.899, up to the tick: the bound
            qty=Q,
            ts=START + 100 * MS,
            opportunity_id=OPP,
        ),
    )
    # sell 1 BTC (marked 100.50) at 100.95 vs at 99.90
    assert p.hedge_value == 45 * UNIT // 100
    assert p.unwind_value == -60 * UNIT // 100
    assert p.residual == {"BTC": MARK}


def test_one_leg_rejected_unwinds_when_hedge_is_beyond_slippage():
    # B bid 100.50 is ~50 bps worse than the 101.00 limit
    p = run(spatial(Q, 0, sell_outcome="rejected"), books(b=(10_050, 10_060)))
    assert p.decision is Decision.UNWIND
    assert p.reason == "UNWIND: hedge_beyond_slippage"
    assert p.deltas == (-Q, 0)
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side, cmd.qty, cmd.order_type) == ("A", Side.SELL, Q, OrderType.IOC)
    assert cmd.client_order_id == client_order_id(OPP, 2, 0)
    assert cmd.px == 9_971  # A bid 99.90 - 20 bps = 99.7002, up to the tick


def test_unwind_wins_when_cheaper_even_if_hedge_is_within_slippage():
    # A's bid rose to 102.00: selling back there beats completing at 100.95
    p = run(spatial(Q, 0, sell_outcome="rejected"), books(a=(10_200, 10_210)))
    assert (p.decision, p.reason) == (Decision.UNWIND, "UNWIND: cheaper")
    assert p.unwind_value is not None
    assert p.hedge_value is not None
    assert p.unwind_value > p.hedge_value


def test_buy_leg_short_hedges_by_buying_on_its_venue():
    p = run(spatial(0, Q, buy_outcome="rejected"), books(a=(9_995, 10_005)))
    assert p.decision is Decision.HEDGE
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side, cmd.qty) == ("A", Side.BUY, Q)
    assert cmd.px == 10_010  # 100.00 + 10 bps
    assert cmd.client_order_id == client_order_id(OPP, 2, 0)
    assert p.residual == {"BTC": -MARK}


def test_partial_fill_hedges_the_missing_quantity():
    p = run(spatial(Q, 4_000))
    assert p.decision is Decision.HEDGE
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side, cmd.qty) == ("B", Side.SELL, 6_000)


def test_partial_fill_unwinds_the_excess_when_hedge_is_too_expensive():
    p = run(spatial(Q, 4_000), books(b=(10_000, 10_010)))
    assert p.decision is Decision.UNWIND
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side, cmd.qty) == ("A", Side.SELL, 6_000)


def test_no_price_waits_then_escalates_to_market_unwind():
    pricer = top_of_book_pricer({})
    legs = spatial(Q, 0, sell_outcome="rejected")
    p = run(legs, pricer)
    assert (p.decision, p.reason, p.commands) == (Decision.WAIT, "WAIT: no_price", ())
    assert (p.hedge_value, p.unwind_value) == (None, None)
    p = run(legs, pricer, now_ms=2_000)
    assert p.decision is Decision.ESCALATE
    assert p.direction == "unwind"
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side, cmd.order_type, cmd.px) == ("A", Side.SELL, OrderType.MARKET, 0)


def test_hedge_priced_but_unwind_not_hedges():
    pricer = top_of_book_pricer({("B", "BTC-USDT"): (10_095, 10_110)})
    p = run(spatial(Q, 0, sell_outcome="rejected"), pricer)
    assert p.decision is Decision.HEDGE


def test_unwind_priced_but_hedge_not_unwinds():
    pricer = top_of_book_pricer({("A", "BTC-USDT"): (9_990, 10_010)})
    p = run(spatial(Q, 0, sell_outcome="rejected"), pricer)
    assert (p.decision, p.reason) == (Decision.UNWIND, "UNWIND: hedge_no_price")


# -- escalation ------------------------------------------------------------------------------


def test_budget_nearly_spent_escalates_to_a_market_order():
    p = run(spatial(Q, 0, sell_outcome="rejected"), now_ms=2_000)
    assert p.decision is Decision.ESCALATE
    assert p.reason == "ESCALATE: budget"
    assert p.direction == "hedge"  # still the better-valued way
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.order_type, cmd.px, cmd.qty, cmd.side) == (OrderType.MARKET, 0, Q, Side.SELL)


def test_escalation_ignores_the_hedge_bound():
    # B bid 100.50 is beyond the hedge bound, yet selling there beats A's 99.90
    legs = spatial(Q, 0, sell_outcome="rejected")
    p = run(legs, books(b=(10_050, 10_060)), now_ms=1_999)
    assert p.decision is Decision.UNWIND  # 1 ms before the escalation point
    p = run(legs, books(b=(10_050, 10_060)), now_ms=2_000)
    assert (p.decision, p.direction) == (Decision.ESCALATE, "hedge")
    assert p.hedge_value == 0
    assert p.unwind_value == -60 * UNIT // 100


def test_escalation_after_the_budget_keeps_escalating():
    p = run(spatial(Q, 0, sell_outcome="rejected"), now_ms=10_000)
    assert p.decision is Decision.ESCALATE


@pytest.mark.parametrize(
    ("priced", "direction", "venue"), [("A", "unwind", "A"), ("B", "hedge", "B")]
)
def test_escalation_takes_the_only_priced_way(priced, direction, venue):
    pricer = top_of_book_pricer({(priced, "BTC-USDT"): (10_000, 10_010)})
    p = run(spatial(Q, 0, sell_outcome="rejected"), pricer, now_ms=2_000)
    assert (p.decision, p.direction) == (Decision.ESCALATE, direction)
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side) == (venue, Side.SELL)


def test_ioc_escalation_uses_a_far_price():
    cfg = msgspec.structs.replace(CFG, escalation_order_type=OrderType.IOC)
    p = run(spatial(Q, 0, sell_outcome="rejected"), now_ms=2_500, config=cfg)
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert cmd.order_type is OrderType.IOC
    assert cmd.px == 9_995  # B bid 100.95 - 100 bps = 99.9405, up to the tick


def test_ioc_escalation_without_a_price_starts_from_the_leg_limit():
    cfg = msgspec.structs.replace(CFG, escalation_order_type=OrderType.IOC)
    p = run(spatial(Q, 0, sell_outcome="rejected"), top_of_book_pricer({}), 2_500, cfg)
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side, cmd.px) == ("A", Side.SELL, 9_900)  # 100.00 - 100 bps


def test_max_attempts_escalates_before_the_budget():
    legs = spatial(Q, 0, sell_outcome="rejected")
    for _ in range(3):
        p = run(legs)
        assert p.decision is Decision.HEDGE
        (cmd,) = p.commands
        assert isinstance(cmd, PlaceOrder)
        legs = with_rollbacks(legs, 1, executed(cmd, INST_B, filled=0))  # IOC found nothing
    p = run(legs)
    assert (p.decision, p.reason) == (Decision.ESCALATE, "ESCALATE: max_attempts")
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert cmd.client_order_id == client_order_id(OPP, 3, 3)


# -- waiting on orders in flight ---------------------------------------------------------------


def test_orders_in_flight_wait():
    legs = spatial(Q, 0, sell_outcome="open")
    p = run(legs, now_ms=100)
    assert (p.decision, p.reason, p.commands) == (Decision.WAIT, "WAIT: in_flight", ())


def test_no_ack_yet_waits_too():
    p = run(spatial(0, 0, "pending", "pending"), now_ms=0)
    assert (p.decision, p.commands) == (Decision.WAIT, ())


def test_in_flight_order_past_its_timeout_is_cancelled():
    legs = spatial(Q, 0, sell_outcome="open")
    p = run(legs, now_ms=500)
    assert p.decision is Decision.WAIT
    assert p.commands == (
        CancelOrder(
            venue="B",
            symbol="BTC-USDT",
            client_order_id=client_order_id(OPP, 1, 0),
            ts=START + 500 * MS,
        ),
    )


def test_escalation_cancels_every_open_order_but_not_twice():
    legs = spatial(0, 0, "open", "open")
    young = msgspec.structs.replace(CFG, order_timeout_ms=10_000)
    p = run(legs, now_ms=2_000, config=young)
    assert [c.client_order_id for c in p.commands] == ["o1L0A0", "o1L1A0"]
    assert all(isinstance(c, CancelOrder) for c in p.commands)
    legs[0].orders[0].request_cancel(START + 2_000 * MS)
    p = run(legs, now_ms=2_100, config=young)
    assert [c.client_order_id for c in p.commands] == ["o1L1A0"]


def test_late_fill_after_done_replans():
    legs = spatial(Q, Q)
    assert run(legs).decision is Decision.DONE
    # a rollback order that was cancelled receives a late fill: the legs are off again
    cmd = PlaceOrder(
        venue="A",
        symbol="BTC-USDT",
        client_order_id=client_order_id(OPP, 2, 0),
        side=Side.BUY,
        order_type=OrderType.IOC,
        px=10_010,
        qty=100,
        ts=START,
    )
    legs = with_rollbacks(legs, 0, executed(cmd, INST_A, filled=100))
    p = run(legs)
    assert p.decision in (Decision.HEDGE, Decision.UNWIND)
    assert p.residual == {"BTC": MARK // 100}


# -- idempotent client order ids ---------------------------------------------------------------


def test_replanning_the_same_state_gives_the_same_commands():
    legs = spatial(Q, 3_000)
    assert run(legs) == run(legs)
    assert msgspec.json.encode(run(legs)) == msgspec.json.encode(run(legs))
    later = run(legs, now_ms=150)
    assert [c.client_order_id for c in later.commands] == [
        c.client_order_id for c in run(legs).commands
    ]


def test_attempt_increments_only_after_a_sent_rollback_ends():
    legs = spatial(Q, 0, sell_outcome="rejected")
    (cmd,) = run(legs).commands
    assert isinstance(cmd, PlaceOrder)
    assert cmd.client_order_id == "o1L3A0"
    sent = Order.from_place(cmd, INST_B)  # in flight: no new order, no new id
    p = run(with_rollbacks(legs, 1, sent))
    assert (p.decision, p.commands) == (Decision.WAIT, ())
    _events(sent, "ioc", 2_500, cmd.px)  # IOC took 0.25 BTC, rest cancelled
    p = run(with_rollbacks(legs, 1, sent))
    assert p.decision is Decision.HEDGE
    (again,) = p.commands
    assert isinstance(again, PlaceOrder)
    assert (again.client_order_id, again.qty) == ("o1L3A1", Q - 2_500)


def test_a_permanently_rejected_hedge_is_not_retried_the_same_way():
    legs = spatial(Q, 0, sell_outcome="rejected")
    (cmd,) = run(legs).commands
    assert isinstance(cmd, PlaceOrder)
    hedge = Order.from_place(cmd, INST_B)
    _events(hedge, "rejected", 0, 0, reason="INSUFFICIENT_BALANCE")
    p = run(with_rollbacks(legs, 1, hedge))
    assert (p.decision, p.reason) == (Decision.UNWIND, "UNWIND: hedge_rejected")
    (unwind,) = p.commands
    assert isinstance(unwind, PlaceOrder)
    assert unwind.client_order_id == "o1L2A0"


def test_a_transient_reject_is_retried_until_max_attempts_then_the_other_way():
    legs = spatial(Q, 0, sell_outcome="rejected")
    for attempt in range(CFG.max_attempts):
        p = run(legs)
        assert p.decision is Decision.HEDGE, attempt
        (cmd,) = p.commands
        assert isinstance(cmd, PlaceOrder)
        assert cmd.client_order_id == f"o1L3A{attempt}"  # the next attempt, never a doubled id
        hedge = Order.from_place(cmd, INST_B)
        _events(hedge, "rejected", 0, 0, reason="RATE_LIMITED")
        legs = with_rollbacks(legs, 1, hedge)
    p = run(legs, now_ms=2_500)  # escalating: the hedge way is spent, unwind on A
    assert (p.decision, p.direction) == (Decision.ESCALATE, "unwind")
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side) == ("A", Side.SELL)


def test_both_ways_rejected_gives_up_with_a_code():
    legs = spatial(Q, 0, sell_outcome="rejected")
    (h,) = run(legs).commands
    assert isinstance(h, PlaceOrder)
    hedge = Order.from_place(h, INST_B)
    _events(hedge, "rejected", 0, 0, reason="INSUFFICIENT_BALANCE")
    legs = with_rollbacks(legs, 1, hedge)
    (u,) = run(legs).commands
    assert isinstance(u, PlaceOrder)
    unwind = Order.from_place(u, INST_A)
    _events(unwind, "rejected", 0, 0, reason="OFF_LOT")
    legs = with_rollbacks(legs, 0, unwind)
    for now_ms in (100, 2_500):
        p = run(legs, now_ms=now_ms)
        assert (p.decision, p.reason, p.commands) == (
            Decision.DONE,
            "UNWIND_SKIPPED: rejected",
            (),
        )
        assert p.residual == {"BTC": MARK}


def test_the_legs_own_permanent_reject_blocks_the_hedge_at_once():
    legs = spatial(Q, 0, sell_outcome="rejected")
    legs[1].orders[0].reject_reason = "INSUFFICIENT_BALANCE"  # as the venue said
    p = run(legs)
    assert (p.decision, p.reason) == (Decision.UNWIND, "UNWIND: hedge_rejected")


def test_rollback_stops_after_max_rollback_orders_with_a_code():
    cfg = msgspec.structs.replace(CFG, max_rollback_orders=3)
    legs = spatial(Q, 0, sell_outcome="rejected")
    for _ in range(3):
        (cmd,) = run(legs, config=cfg).commands
        assert isinstance(cmd, PlaceOrder)
        hedge = Order.from_place(cmd, INST_B)
        _events(hedge, "ioc", 100, cmd.px)  # a venue that fills 1% of every order
        legs = with_rollbacks(legs, 1, hedge)
    p = run(legs, config=cfg)
    assert (p.decision, p.reason, p.commands) == (Decision.DONE, DONE_EXHAUSTED, ())
    assert p.residual["BTC"] > 0


def test_residual_below_min_size_is_traded_as_one_more_minimum_round_trip():
    a = make_inst("A", min_size="0.01")
    b = make_inst("B", min_size="0.01")
    legs = [
        LegFills(leg=LEG_BUY, inst=a, orders=(leg_order(LEG_BUY, a, 0, Q),)),
        LegFills(leg=LEG_SELL, inst=b, orders=(leg_order(LEG_SELL, b, 1, Q - 50),)),
    ]  # 0.005 BTC short of the sell: below the 0.01 minimum
    p = run(legs)
    assert p.decision is Decision.HEDGE
    buy, sell = p.commands
    assert isinstance(buy, PlaceOrder)
    assert isinstance(sell, PlaceOrder)
    # buy the minimum more on A, sell the missing 0.005 plus the minimum on B: balanced again
    assert (buy.venue, buy.side, buy.qty) == ("A", Side.BUY, 100)
    assert (sell.venue, sell.side, sell.qty) == ("B", Side.SELL, 150)
    assert p.deltas == (100, 150)


def test_residual_below_min_notional_is_padded_to_the_minimum_notional():
    a = make_inst("A", min_notional="5")
    b = make_inst("B", min_notional="5")
    legs = [
        LegFills(leg=LEG_BUY, inst=a, orders=(leg_order(LEG_BUY, a, 0, Q),)),
        LegFills(leg=LEG_SELL, inst=b, orders=(leg_order(LEG_SELL, b, 1, Q - 100),)),
    ]  # 0.01 BTC ~ 1 USDT < 5
    p = run(legs)
    assert p.decision is Decision.HEDGE
    for cmd, inst in zip(p.commands, (a, b), strict=True):
        assert isinstance(cmd, PlaceOrder)
        assert notional_amount(inst, cmd.px, cmd.qty, round_up=False) >= 5 * UNIT
    assert p.deltas[1] - p.deltas[0] == 100


def test_an_unwind_cannot_be_padded_below_nothing():
    a = make_inst("A", min_size="2")  # more than the whole leg
    b = make_inst("B", min_size="2")
    legs = [
        LegFills(leg=LEG_BUY, inst=a, orders=(leg_order(LEG_BUY, a, 0, Q),)),
        LegFills(leg=LEG_SELL, inst=b, orders=(leg_order(LEG_SELL, b, 1, Q - 50),)),
    ]
    p = run(legs, books(b=(9_000, 9_010)))  # hedge far beyond its bound
    assert (p.decision, p.reason) == (Decision.WAIT, "WAIT: beyond_slippage")


def test_hedge_blocked_only_by_its_bound_waits_when_unwind_is_too_small():
    a = make_inst("A", min_size="1.5")  # the unwind cannot even be padded: below nothing
    legs = [
        LegFills(leg=LEG_BUY, inst=a, orders=(leg_order(LEG_BUY, a, 0, Q),)),
        LegFills(leg=LEG_SELL, inst=INST_B, orders=(leg_order(LEG_SELL, INST_B, 1, 8_000),)),
    ]
    p = run(legs, books(b=(10_000, 10_010)))
    assert (p.decision, p.reason) == (Decision.WAIT, "WAIT: beyond_slippage")
    p = run(legs, books(b=(10_000, 10_010)), now_ms=2_000)
    assert (p.decision, p.direction) == (Decision.ESCALATE, "hedge")


# -- N legs: a triangle ------------------------------------------------------------------------


def test_triangle_hedges_the_two_missing_legs_or_unwinds_the_first():
    # USDT -> BTC -> ETH -> USDT on one venue: buy BTC-USDT, buy ETH-BTC, sell ETH-USDT
    btc = make_inst("X", "BTC-USDT")
    ethbtc = make_inst("X", "ETH-BTC", lot="0.001", tick="0.00001")
    eth = make_inst("X", "ETH-USDT", lot="0.001", tick="0.001")
    legs_spec = [
        (Leg(venue="X", symbol="BTC-USDT", side=Side.BUY, px=10_000, qty=10_000,
             expected_notional=0, fee=0), btc),
        (Leg(venue="X", symbol="ETH-BTC", side=Side.BUY, px=5_000, qty=20_000,
             expected_notional=0, fee=0), ethbtc),
        (Leg(venue="X", symbol="ETH-USDT", side=Side.SELL, px=5_050, qty=20_000,
             expected_notional=0, fee=0), eth),
    ]  # fmt: skip
    legs = [
        LegFills(leg=leg, inst=inst, orders=(leg_order(leg, inst, i, leg.qty if i == 0 else 0),))
        for i, (leg, inst) in enumerate(legs_spec)
    ]
    marks = {"BTC": unit_value(btc, 10_000), "ETH": unit_value(eth, 5_000)}
    p = plan(
        OPP,
        "USDT",
        legs,
        top_of_book_pricer(
            {
                ("X", "BTC-USDT"): (9_990, 10_010),
                ("X", "ETH-BTC"): (4_999, 5_001),
                ("X", "ETH-USDT"): (5_048, 5_052),
            }
        ),
        marks,
        CFG,
        now_ns=START + MS,
        start_ns=START,
    )
    assert p.residual == {"BTC": marks["BTC"], "ETH": 0}
    assert p.decision is Decision.HEDGE
    assert p.deltas == (0, 20_000, 20_000)
    assert [(c.client_order_id, c.side, c.qty) for c in p.commands] == [  # type: ignore[union-attr]
        ("o1L4A0", Side.BUY, 20_000),
        ("o1L5A0", Side.SELL, 20_000),
    ]
    # the ETH legs got expensive: reverse the BTC instead
    p = plan(
        OPP,
        "USDT",
        legs,
        top_of_book_pricer(
            {
                ("X", "BTC-USDT"): (9_990, 10_010),
                ("X", "ETH-BTC"): (5_200, 5_300),
                ("X", "ETH-USDT"): (4_800, 4_900),
            }
        ),
        marks,
        CFG,
        now_ns=START + MS,
        start_ns=START,
    )
    assert p.decision is Decision.UNWIND
    assert [(c.client_order_id, c.side, c.qty) for c in p.commands] == [  # type: ignore[union-attr]
        ("o1L3A0", Side.SELL, 10_000)
    ]


# -- residual exposure -------------------------------------------------------------------------


def test_residual_exposure_is_signed_home_value_per_asset():
    assert residual_exposure(spatial(Q, 4_000), MARKS, "USDT") == {"BTC": MARK * 6 // 10}
    assert residual_exposure(spatial(4_000, Q), MARKS, "USDT") == {"BTC": -MARK * 6 // 10}


def test_residual_exposure_counts_fees_in_the_legs_assets_only():
    legs = spatial(Q, Q)
    order = legs[0].orders[0]
    order.fees["BTC"] = UNIT // 10_000  # 0.0001 BTC taken as fee: short that much
    order.fees["BNB"] = UNIT // 1_000  # a fee token is not exposure of this trade
    assert residual_exposure(legs, MARKS, "USDT") == {"BTC": -(MARK // Q)}


def test_residual_exposure_rounds_away_from_zero():
    legs = spatial(Q, Q - 1)
    assert residual_exposure(legs, {"BTC": 3}, "USDT") == {"BTC": 1}  # 1e-4 BTC * 3 / UNIT
    legs = spatial(Q - 1, Q)
    assert residual_exposure(legs, {"BTC": 3}, "USDT") == {"BTC": -1}


def test_residual_exposure_needs_a_mark_only_for_an_open_asset():
    assert residual_exposure(spatial(Q, Q), {}, "USDT") == {"BTC": 0}
    with pytest.raises(InvariantViolation, match="no mark for BTC"):
        residual_exposure(spatial(Q, 0), {}, "USDT")


def test_unit_value_is_one_base_unit_in_home_amount():
    assert unit_value(INST_A, 10_050) == 10_050 * 10 ** (AMOUNT_PRECISION - 2)


# -- inputs ----------------------------------------------------------------------------------


def test_time_running_backwards_raises():
    with pytest.raises(InvariantViolation, match="now"):
        plan(OPP, "USDT", spatial(Q, Q), books(), MARKS, CFG, now_ns=START - 1, start_ns=START)


def test_inconsistent_legs_raise():
    with pytest.raises(InvariantViolation, match="no legs"):
        run([])
    legs = spatial(Q, Q)
    with pytest.raises(InvariantViolation, match="instrument B/BTC-USDT for A/BTC-USDT"):
        run([msgspec.structs.replace(legs[0], inst=INST_B), legs[1]])
    with pytest.raises(InvariantViolation, match="is on B/BTC-USDT"):
        run([msgspec.structs.replace(legs[0], orders=legs[1].orders), legs[1]])
    with pytest.raises(InvariantViolation, match="qty 0"):
        run([msgspec.structs.replace(legs[0], leg=msgspec.structs.replace(LEG_BUY, qty=0))])
    wrong_side = leg_order(msgspec.structs.replace(LEG_BUY, side=Side.SELL), INST_A, 0, 0)
    with pytest.raises(InvariantViolation, match="is SELL, the leg BUY"):
        run([msgspec.structs.replace(legs[0], orders=(wrong_side,)), legs[1]])


@pytest.mark.parametrize(
    "kw",
    [
        {"escalation_order_type": "fok"},
        {"time_budget_ms": -1},
        {"max_attempts": 0},
        {"escalation_lead_ms": 5000, "time_budget_ms": 1000},
        {"max_hedge_slippage_bps": -1},
    ],
)
def test_bad_config_is_refused(kw):
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(kw, UnwindConfig)


def test_config_refuses_unknown_keys():
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"time_budget": 1}, UnwindConfig)


def test_plan_is_a_journal_record():
    p = run(spatial(Q, 4_000))
    assert msgspec.json.decode(msgspec.json.encode(p), type=Plan) == p


# -- property: whatever the fills, the plan's orders flatten the position ----------------------

px_st = st.integers(min_value=9_800, max_value=10_300)


@settings(max_examples=300, deadline=None)
@given(
    f_buy=st.integers(0, Q),
    f_sell=st.integers(0, Q),
    a_bid=px_st,
    b_bid=px_st,
    spread=st.integers(1, 30),
    now_ms=st.integers(0, 4_000),
    escalation=st.sampled_from([OrderType.MARKET, OrderType.IOC]),
    tolerance=st.sampled_from([0, UNIT // 100]),
)
def test_applying_the_plan_leaves_residual_within_tolerance(
    f_buy, f_sell, a_bid, b_bid, spread, now_ms, escalation, tolerance
):
    cfg = msgspec.structs.replace(
        CFG, escalation_order_type=escalation, residual_tolerance=tolerance
    )
    pricer = books(a=(a_bid, a_bid + spread), b=(b_bid, b_bid + spread))
    legs = spatial(f_buy, f_sell)
    p = run(legs, pricer, now_ms, cfg)
    assert p == run(legs, pricer, now_ms, cfg)  # deterministic
    if p.decision is Decision.DONE:
        assert p.commands == ()
        assert all(abs(v) <= tolerance for v in p.residual.values())
        return
    assert p.decision in (Decision.HEDGE, Decision.UNWIND, Decision.ESCALATE)
    assert p.commands
    after = apply_plan(legs, p, pricer)
    assert all(abs(v) <= tolerance for v in residual_exposure(after, MARKS, "USDT").values())
    assert residual_exposure(after, MARKS, "USDT") == {"BTC": 0}
    final = run(after, pricer, now_ms, cfg)
    assert (final.decision, final.reason) == (Decision.DONE, DONE_BALANCED)
    assert all(o.state is not OrderState.REJECTED for lf in after for o in lf.rollbacks)


def test_escalation_does_not_cancel_its_own_marketable_order():
    legs = spatial(Q, 0, sell_outcome="rejected")
    p = run(legs, now_ms=2_000)
    assert p.decision is Decision.ESCALATE
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert cmd.order_type is OrderType.MARKET
    sent = Order.from_place(cmd, INST_A if cmd.venue == "A" else INST_B)
    legs = with_rollbacks(legs, 0 if cmd.venue == "A" else 1, sent)
    p = run(legs, now_ms=2_100)  # in flight, younger than its timeout: wait, no cancel
    assert (p.decision, p.commands) == (Decision.WAIT, ())
    p = run(legs, now_ms=2_000 + CFG.order_timeout_ms)  # timed out: now it is cancelled
    assert [type(c).__name__ for c in p.commands] == ["CancelOrder"]

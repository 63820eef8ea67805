"""Executor rollback scenarios on simulated venues and a virtual clock (no sleeps).

A broken opportunity (a leg partly filled, rejected, late or cancelled) must end flat: hedged
within the slippage bound, unwound at a bounded price, or escalated at the end of the time
budget. Each scenario asserts what was sent (the journal), the end inventory, the journal's
rollback rows, the PnL and the risk state; the property test runs random venue faults.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.messages import OrderCanceled
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.money import notional_amount
from arb.core.orders import Order
from arb.core.orders import OrderState
from arb.core.risk import RefusalCode
from arb.core.types import Side
from arb.core.unwind import DONE_BALANCED
from arb.core.unwind import UnwindConfig
from arb.executor import Executor
from tests.unit.exec_world import ASKS_A
from tests.unit.exec_world import ASKS_B
from tests.unit.exec_world import BIDS_B
from tests.unit.exec_world import MS
from tests.unit.exec_world import SYM
from tests.unit.exec_world import T0
from tests.unit.exec_world import UNIT
from tests.unit.exec_world import A
from tests.unit.exec_world import B
from tests.unit.exec_world import World

BTC = UNIT  # one BTC at AMOUNT_PRECISION


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


@pytest.fixture
def make_world(tmp_path):
    """``World(tmp_path, **kwargs)``, closed at teardown even when the test fails."""
    made: list[World] = []

    def make(**kwargs) -> World:
        w = World(tmp_path, **kwargs)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


# -- helpers -----------------------------------------------------------------------------------


def sent(w: World, oid: str) -> list[PlaceOrder]:
    """Every order the journal says was sent for opportunity ``oid``, in sending order."""
    w.journal.flush()
    return [o for o in w.journal.orders() if o.opportunity_id == oid]


def rollback_orders(w: World, oid: str) -> list[PlaceOrder]:
    """The rollback orders of a two-leg opportunity: leg numbers 2 and 3."""
    return [o for o in sent(w, oid) if not o.client_order_id.endswith(("L0A0", "L1A0"))]


def decisions(w: World, oid: str) -> list[tuple[str, str]]:
    w.journal.flush()
    return [(r.decision, r.code) for r in w.journal.rollbacks() if r.opportunity_id == oid]


def usdt_change(w: World) -> int:
    """What the venues' USDT balances moved by, fees included (AMOUNT_PRECISION)."""
    return sum(s.totals()["USDT"] - w.ledger.start[v]["USDT"] for v, s in w.sims.items())


def state(o: Order) -> OrderState:
    """``o.state`` read now (a call, so that mypy does not keep an earlier narrowing)."""
    return o.state


def cash_at_limits(ex: Executor) -> int:
    """The trade's cash if every limit order had filled at its limit: the worst it can be."""
    cash = 0
    for o in ex.all_orders():
        assert o.order_type is not OrderType.MARKET  # a market order has no bound
        cash -= int(o.side) * notional_amount(o.inst, o.px, o.filled_qty, round_up=True)
    return cash


def assert_flat_and_reconciled(w: World) -> None:
    ex = w.executor
    assert w.net_btc() == 0
    assert ex.active == 0
    assert ex.unhedged_notional == 0
    assert w.risk.state.unhedged_notional == 0
    assert w.risk.state.open_orders == 0
    assert w.risk.state.in_flight == {}
    for v, sim in w.sims.items():
        assert w.ledger.totals[v] == sim.totals()


# -- 1. partial fill, hedged -------------------------------------------------------------------


def test_a_partly_filled_leg_is_hedged_on_its_venue_within_the_slippage_bound(world):
    opp = world.opportunity(qty=1000)  # buy 1 BTC on A at 100.00, sell on B at 101.00
    assert world.send(opp) is None
    # While the orders travel, B's 101.00 bid shrinks to 0.4 BTC; 100.95 (5 bps lower, inside
    # the 10 bps hedge bound) can take the rest.
    world.book(B, [(10100, 400), (10095, 5000), (10050, 10000)], ASKS_B)
    world.settle()
    ex = world.executor

    sell = opp.legs[1]
    (hedge,) = rollback_orders(world, opp.id)
    assert (hedge.venue, hedge.side, hedge.order_type) == (B, Side.SELL, OrderType.IOC)
    assert hedge.qty == 600  # exactly what the leg missed
    assert hedge.px <= sell.px  # marketable against the leg's limit ...
    assert hedge.px * 10_000 >= sell.px * (10_000 - 10)  # ... and never more than 10 bps worse
    o = ex.order(B, hedge.client_order_id)
    assert o is not None
    assert (o.state, o.filled_qty, o.avg_px) == (OrderState.FILLED, 600, 10095)

    assert_flat_and_reconciled(world)
    (trade,) = ex.finished
    assert trade.rollback
    assert trade.reason == DONE_BALANCED
    assert trade.residual == 0
    assert (ex.stats.partial_fills, ex.stats.legs_filled, ex.stats.legs_unfilled) == (1, 1, 0)
    assert (ex.stats.rollbacks, ex.stats.rollback_orders, ex.stats.escalations) == (1, 1, 0)
    # The hedge sold 0.6 at 100.95 instead of 101.00: still a profit, a little less.
    assert 0 < trade.pnl < opp.expected_profit
    assert trade.pnl == usdt_change(world) == ex.realized_pnl
    # rollback_loss: 0.05 under the leg's limit on 0.6 BTC, plus the hedge's own fee
    price_cost = notional_amount(o.inst, sell.px - 10095, 600, round_up=True)
    assert price_cost == 3 * UNIT // 100
    assert ex.stats.rollback_loss == price_cost + o.fees["USDT"]
    assert decisions(world, opp.id) == [
        ("HEDGE", "HEDGE: within_slippage"),
        ("DONE", DONE_BALANCED),
    ]
    hedge_row = world.journal.rollbacks()[0]
    assert hedge_row.residual_qty == 600
    assert hedge_row.residual_notional > 0  # 0.6 BTC unhedged when the hedge was decided
    assert world.risk.state.leg_failures == {B: 1}  # the partial leg counts as a failure
    assert world.risk.state.cooldowns[(SYM, B)] > world.now  # and starts the cool-down


# -- 2. partial fill, unwound ------------------------------------------------------------------


def test_a_partly_filled_leg_that_cannot_be_hedged_is_unwound_on_the_other_venue(world):
    world.book(A, [(9900, 5000)], ASKS_A)  # A's bid is 1% under its ask
    opp = world.opportunity(qty=1000)
    assert world.send(opp) is None
    # B keeps 0.4 BTC at 101.00; the next bid is 100.00, 99 bps away: no hedge within 10 bps.
    world.book(B, [(10100, 400), (10000, 10000)], ASKS_B)
    world.settle()
    ex = world.executor

    (unwind,) = rollback_orders(world, opp.id)
    assert (unwind.venue, unwind.side, unwind.order_type) == (A, Side.SELL, OrderType.IOC)
    assert unwind.qty == 600  # the excess of the long leg
    # the limit is A's bid moved 20 bps against us (a bounded marketable order)
    assert 9900 * (10_000 - 20) <= unwind.px * 10_000 <= 9900 * 10_000
    assert all(o.venue == A for o in rollback_orders(world, opp.id))  # nothing more sold on B

    assert_flat_and_reconciled(world)
    (trade,) = ex.finished
    assert trade.rollback
    assert trade.residual == 0
    assert ex.stats.partial_fills == 1
    assert ex.stats.rollbacks == 1
    assert [d for d, _ in decisions(world, opp.id)] == ["UNWIND", "DONE"]
    assert decisions(world, opp.id)[0][1] == "UNWIND: hedge_beyond_slippage"
    assert world.journal.rollbacks()[0].residual_qty == -600  # the unwind reverses 0.6 BTC
    # A loss, bounded by the orders' limit prices and the fees actually paid.
    assert trade.pnl < 0
    assert trade.pnl >= cash_at_limits(ex) - trade.fees
    assert trade.pnl == usdt_change(world) == ex.realized_pnl
    assert ex.stats.rollback_loss > 0
    assert world.risk.state.daily_pnl == trade.pnl


# -- 3. ack after the time budget --------------------------------------------------------------


def test_an_ack_after_the_time_budget_is_applied_and_the_trade_escalates_to_flat(make_world):
    budget = {"time_budget_ms": 1000, "escalation_lead_ms": 300, "order_timeout_ms": 200}
    w = make_world(sim_b={"extra_delay_ms": 1500}, rollback=budget)
    opp = w.opportunity(qty=1000)
    assert w.send(opp) is None
    leg_b = opp.id + "L1A0"
    # B's bid thins out before the order gets there: 0.3 BTC left at 101.00, then 95.00.
    w.book(B, [(10100, 300), (9500, 10000)], ASKS_B)
    ex = w.executor

    w.run_until(T0 + 199 * MS)
    o = ex.order(B, leg_b)
    assert o is not None
    assert state(o) is OrderState.PENDING_NEW
    w.run_until(T0 + 200 * MS)  # order_timeout_ms: the silent order gets a cancel request
    assert state(o) is OrderState.CANCEL_PENDING
    assert o.ts_cancel_requested == T0 + 200 * MS
    w.run_until(T0 + 1500 * MS)  # past the whole budget: still waiting, nothing re-sent
    assert state(o) is OrderState.CANCEL_PENDING
    assert ex.stats.rollback_orders == 0
    assert w.net_btc() == BTC  # A's leg filled long ago: 1 BTC long meanwhile

    w.settle()
    # The venue answered at 1.507 s (ack, a 0.3 fill, the IOC remainder): all applied.
    assert (o.state, o.filled_qty, o.cancel_reason) == (OrderState.CANCELED, 300, "IOC_REMAINDER")
    assert o.ts_terminal is not None
    assert o.ts_terminal > T0 + 1000 * MS
    assert w.ledger.totals[B]["BTC"] == w.ledger.start[B]["BTC"] - 3 * BTC // 10
    # In venue order and before a terminal event, none of them is a race; nothing crashed.
    assert ex.race_counts() == {}
    w.journal.flush()
    # one cancel for the leg, at its timeout; not re-sent when the escalation began
    leg_cancels = [c for c in w.journal.cancels() if c.client_order_id == leg_b]
    assert [(c.venue, c.ts) for c in leg_cancels] == [(B, T0 + 200 * MS)]

    # Past the budget: escalate, as a market order, the better way: sell the 0.7 back on A
    # (99.90) rather than into B's 95.00.
    (esc,) = rollback_orders(w, opp.id)
    assert (esc.venue, esc.side, esc.order_type, esc.qty) == (A, Side.SELL, OrderType.MARKET, 700)
    assert esc.ts == o.ts_terminal
    assert ex.stats.escalations == 1
    assert decisions(w, opp.id) == [("ESCALATE", "ESCALATE: budget"), ("DONE", DONE_BALANCED)]
    assert_flat_and_reconciled(w)
    (trade,) = ex.finished
    assert trade.rollback
    assert trade.pnl == usdt_change(w)


# -- 4. fill after the cancel ------------------------------------------------------------------


def test_a_fill_after_the_cancel_confirmation_is_applied_once_and_re_hedged(make_world):
    # B's gateway is 300 ms slow; orders are cancelled after 200 ms. The venue confirms our
    # cancel (hand-made: the sim answers in order) but its matching engine had filled the
    # order; the fill arrives after the cancel confirmation, once the trade was unwound.
    w = make_world(sim_b={"extra_delay_ms": 300}, rollback={"order_timeout_ms": 200})
    opp = w.opportunity(qty=1000)
    assert w.send(opp) is None
    ex = w.executor
    leg_b = opp.id + "L1A0"
    w.run_until(T0 + 200 * MS)
    o = ex.order(B, leg_b)
    assert o is not None
    assert state(o) is OrderState.CANCEL_PENDING

    w.run_until(T0 + 250 * MS)
    w.book(B, [(10000, 10000)], ASKS_B)  # B's bid drops: no hedge within 10 bps
    ex.on_event(
        OrderCanceled(venue=B, client_order_id=leg_b, reason="REQUESTED", ts_event=w.now,
                      ts_recv=w.now)
    )  # fmt: skip
    assert state(o) is OrderState.CANCELED
    w.run_until(T0 + 280 * MS)  # A's 1 BTC is sold back on A
    assert w.net_btc() == 0
    assert ex.active == 0
    (first,) = ex.finished
    assert first.pnl < 0
    w.book(B, BIDS_B, ASKS_B)  # B's 101.00 bid is back when the late order gets there

    w.settle()
    # The venue filled the "cancelled" order at 101.00: one fill of 1 BTC, applied once.
    assert (o.state, o.filled_qty) == (OrderState.FILLED, 1000)
    assert o.races == {"late_ack": 1, "late_fill": 1}
    assert ex.race_counts() == {"late_ack": 1, "late_fill": 1}
    w.journal.flush()
    late = [f.event for f in w.journal.fills(opp.id) if f.event.client_order_id == leg_b]
    assert [f.qty for f in late] == [1000]
    assert w.ledger.totals[B]["BTC"] == w.ledger.start[B]["BTC"] - BTC

    # The late fill re-opened the finished trade: 1 BTC short, hedged by buying on A again.
    rb = rollback_orders(w, opp.id)
    assert [(r.venue, r.side) for r in rb] == [(A, Side.SELL), (A, Side.BUY)]
    assert rb[1].qty == 1000
    assert rb[1].ts == late[0].ts_recv  # sent on the late fill
    assert [d for d, _ in decisions(w, opp.id)] == ["UNWIND", "DONE", "HEDGE", "DONE"]
    assert_flat_and_reconciled(w)
    assert [t.opportunity_id for t in ex.finished] == [opp.id, opp.id]
    last = ex.finished[-1]
    assert last.reason == DONE_BALANCED
    # The PnL is the whole trade's, and the risk gate got each change once.
    assert last.pnl == usdt_change(w) == ex.realized_pnl == w.risk.state.daily_pnl
    assert last.pnl > first.pnl
    assert ex.stats.rollbacks == 1  # one trade needed a rollback, however many orders


# -- 5. kill switch during a rollback ----------------------------------------------------------


def test_the_kill_switch_does_not_stop_a_rollback_but_refuses_new_trades(world):
    opp = world.opportunity(qty=1000)
    assert world.send(opp) is None
    # 0.4 at 101.00 for the leg, 0.3 at 100.95 for a first hedge, then only 100.00.
    world.book(B, [(10100, 400), (10095, 300), (10000, 10000)], ASKS_B)
    ex = world.executor
    for _ in range(100):  # until the first rollback order is out (7 ms)
        if ex.stats.rollback_orders:
            break
        world.advance(1)
    assert ex.stats.rollback_orders == 1
    assert ex.active == 1
    tripped_at = world.now
    world.risk.trip_kill_switch("test")
    world.settle()

    after = [r for r in rollback_orders(world, opp.id) if r.ts > tripped_at]
    assert after  # rollback orders kept going out with the switch tripped ...
    assert all(r.venue == B and r.side is Side.SELL for r in after)
    assert_flat_and_reconciled(world)  # ... until the trade was flat
    (trade,) = ex.finished
    assert trade.rollback
    assert trade.residual == 0

    legs_sent = ex.stats.legs_sent
    refusal = world.send(world.opportunity(qty=1000))
    assert refusal is not None
    assert refusal.code == RefusalCode.KILL_SWITCH
    assert ex.stats.legs_sent == legs_sent
    assert ex.stats.refusals == {"KILL_SWITCH": 1}
    assert ex.active == 0
    world.journal.flush()
    assert world.journal.totals().refusals == {"KILL_SWITCH": 1}


# -- 6. insufficient balance -------------------------------------------------------------------


def test_a_leg_the_venue_cannot_fund_is_rejected_and_the_other_leg_unwound(make_world):
    # B holds no BTC: the sell leg cannot be funded. (The detector sizes on balances; here
    # the executor is handed the opportunity directly.)
    w = make_world(sim_b={"balances": {"USDT": "100000", "BTC": "0"}})
    opp = w.opportunity(qty=1000)
    assert w.send(opp) is None
    w.settle()
    ex = w.executor

    leg_b = ex.order(B, opp.id + "L1A0")
    assert leg_b is not None
    assert (leg_b.state, leg_b.reject_reason) == (OrderState.REJECTED, "INSUFFICIENT_BALANCE")
    # B never sold BTC it did not have: anything tried there was refused the same way.
    on_b = [ex.order(B, r.client_order_id) for r in rollback_orders(w, opp.id) if r.venue == B]
    assert all(o is not None and o.reject_reason == "INSUFFICIENT_BALANCE" for o in on_b)
    assert w.sims[B].totals() == w.ledger.start[B]
    # The 1 BTC bought on A is sold back on A.
    unwinds = [r for r in rollback_orders(w, opp.id) if r.venue == A]
    assert [(r.side, r.qty) for r in unwinds] == [(Side.SELL, 1000)]
    sold = ex.order(A, unwinds[0].client_order_id)
    assert sold is not None
    assert sold.state is OrderState.FILLED
    assert "UNWIND" in [d for d, _ in decisions(w, opp.id)]

    assert_flat_and_reconciled(w)
    (trade,) = ex.finished
    assert trade.rollback
    assert cash_at_limits(ex) - trade.fees <= trade.pnl < 0
    assert trade.pnl == usdt_change(w)
    assert ex.stats.legs_unfilled == 1
    assert ex.stats.rejects >= 1
    assert w.risk.state.leg_failures == {B: 1}


# -- 7. property: whatever the venues do, the trade ends flat ----------------------------------

fractions = st.floats(min_value=0.1, max_value=1.0)
latencies = st.floats(min_value=0.0, max_value=50.0)
delays = st.floats(min_value=0.0, max_value=4000.0)
reject_rates = st.sampled_from([0.0, 0.5, 1.0])


def _sim(fraction: float, order_ms: float, event_ms: float, delay_ms: float, reject: float):
    return {
        "partial_fill_fraction": fraction,
        "order_latency": order_ms,
        "event_latency": event_ms,
        "extra_delay_ms": delay_ms,
        "reject_rate": reject,
    }


# Counterexamples this test found (bugs of the first planner, fixed: a transient reject gave
# the way up for good; dust below the minimum order stayed unhedged): checked on every run.
@example(  # A rejects every order; B's unwind (buy back) is randomly rejected once
    sim_a=_sim(1.0, 5.0, 2.0, 0.0, 1.0), sim_b=_sim(1.0, 5.0, 2.0, 0.0, 0.5)
)
@example(  # B fills half of every order: the hedges halve down to dust below min notional
    sim_a=_sim(1.0, 5.0, 2.0, 0.0, 0.0), sim_b=_sim(0.5, 5.0, 2.0, 0.0, 0.0)
)
@example(  # both venues fill part of every order: padding alone would ping-pong forever
    sim_a=_sim(0.5620638927286302, 0.0, 0.0, 0.0, 0.0),
    sim_b=_sim(0.9779607147902989, 0.0, 0.0, 0.0, 0.0),
)
@settings(max_examples=40, deadline=None)
@given(
    sim_a=st.builds(_sim, fractions, latencies, latencies, delays, reject_rates),
    sim_b=st.builds(_sim, fractions, latencies, latencies, delays, reject_rates),
)
def test_whatever_the_venues_do_the_residual_ends_zero_or_within_the_limit(sim_a, sim_b):
    cfg = UnwindConfig()
    # 1 BTC is ~100 USDT; the unhedged limit is above one leg, so the trade may be sent
    limit = 150 * UNIT
    with tempfile.TemporaryDirectory() as d:
        w = World(Path(d), sim_a=sim_a, sim_b=sim_b, risk={"max_unhedged_notional_quote": "150"})
        try:
            w.send(w.opportunity(qty=1000))
            w.settle(limit_ms=600_000)
            ex = w.executor
            assert ex.active == 0  # always ends: no order spam, bounded attempts
            # the last round before the cap may send one order per leg (two legs here)
            assert ex.stats.rollback_orders <= cfg.max_rollback_orders + 1
            for v, sim in w.sims.items():
                assert w.ledger.totals[v] == sim.totals()
            assert w.risk.state.open_orders == 0
            residual = abs(w.net_btc()) * 101 // 1000  # value at ~101 USDT per BTC (lot scale)
            assert residual <= limit
            (trade,) = ex.finished
            if abs(w.net_btc()) * 100 > cfg.residual_tolerance:
                # not flat: only for a coded reason, and the risk gate carries the residual
                assert trade.reason.startswith("UNWIND_SKIPPED: "), trade.reason
                assert trade.reason != DONE_BALANCED
                assert w.risk.state.unhedged_notional == ex.unhedged_notional > 0
                rows = w.journal.rollbacks()
                assert rows[-1].decision == "DONE"
                assert rows[-1].code == trade.reason
            faultless = all(
                sim["partial_fill_fraction"] == 1.0 and sim["reject_rate"] == 0.0
                for sim in (sim_a, sim_b)
            )
            if faultless:
                assert w.net_btc() == 0  # delays alone never leave anything unhedged
        finally:
            w.close()

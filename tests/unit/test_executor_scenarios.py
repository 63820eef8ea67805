"""Executor scenarios on simulated venues and a virtual clock (no sleeps): fills, rejects,
partial fills and their rollback, late and duplicate events, stale books, kill switch."""

from __future__ import annotations

import msgspec
import pytest

from arb.core.errors import InvariantViolation
from arb.core.messages import OrderFilled
from arb.core.orders import OrderState
from arb.core.risk import RefusalCode
from arb.core.types import Side
from arb.journal import open_journal
from tests.unit.exec_world import ASKS_A
from tests.unit.exec_world import ASKS_B
from tests.unit.exec_world import BIDS_A
from tests.unit.exec_world import BIDS_B
from tests.unit.exec_world import UNIT
from tests.unit.exec_world import A
from tests.unit.exec_world import B
from tests.unit.exec_world import World


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def test_both_legs_fill_and_the_trade_finishes_hedged_with_its_profit(world):
    opp = world.opportunity(qty=1000)  # 1 BTC: buy 100.00 on A, sell 101.00 on B
    assert world.send(opp) is None
    world.settle()
    ex = world.executor
    assert ex.active == 0
    assert ex.stats.legs_filled == 2
    assert ex.stats.rollbacks == 0
    assert world.net_btc() == 0
    (trade,) = ex.finished
    # 101.00 - 100.00 on 1 BTC, minus 10 bps on each leg: 1.00 - 0.10 - 0.101 = 0.799 USDT
    assert trade.pnl == opp.expected_profit == 799 * UNIT // 1000
    assert ex.unhedged_notional == 0
    assert world.risk.state.open_orders == 0
    assert world.risk.state.in_flight == {}
    # the engine's ledger is the venues' own balances, to the last unit
    for v, sim in world.sims.items():
        assert world.ledger.totals[v] == sim.totals()


def test_the_journal_holds_the_trade_orders_events_and_fills(world, tmp_path):
    world.send(world.opportunity(qty=1000))
    world.settle()
    world.journal.flush()
    with open_journal(tmp_path / "journal.sqlite") as r:
        t = r.totals()
        assert t.decisions == {"TRADE": 1}
        assert t.orders == 2
        assert t.fills == 2
        assert [o.client_order_id[-4:] for o in r.orders()] == ["L0A0", "L1A0"]
        assert r.pnl()[-1].realized == 799 * UNIT // 1000


def test_one_leg_rejected_is_unwound_and_nothing_stays_unhedged(tmp_path):
    w = World(tmp_path, sim_b={"reject_rate": 1.0})
    w.send(w.opportunity(qty=1000))
    w.settle()
    ex = w.executor
    assert ex.stats.rejects >= 1
    assert ex.stats.rollbacks == 1
    assert w.net_btc() == 0  # the bought BTC was sold back on A
    assert ex.unhedged_notional == 0
    (trade,) = ex.finished
    assert trade.rollback
    assert trade.pnl < 0  # the unwind paid A's spread and two fees
    assert ex.stats.rollback_loss > 0
    assert w.risk.state.leg_failures == {B: 1}
    w.close()


def test_kill_switch_refuses_new_trades_with_a_coded_reason(world):
    world.risk.trip_kill_switch("file build/KILL exists")
    refusal = world.send(world.opportunity())
    assert refusal is not None
    assert refusal.code == RefusalCode.KILL_SWITCH
    assert world.executor.stats.refusals == {"KILL_SWITCH": 1}
    world.journal.flush()
    assert world.journal.totals().refusals == {"KILL_SWITCH": 1}


def test_a_book_that_went_stale_before_sending_is_refused(world):
    opp = world.opportunity()
    world.advance(2_000)  # nothing updates the books for 2 s; limit is 1 s
    refusal = world.send(opp)
    assert refusal is not None
    assert refusal.code == RefusalCode.STALE_BOOK
    assert world.executor.stats.trades == 0


def test_an_impossible_transition_fails_loudly(world):
    world.send(world.opportunity())
    world.settle()
    order = world.executor.order(A, world.executor.finished[0].opportunity_id + "L0A0")
    assert order is not None
    assert order.state is OrderState.FILLED
    bogus = OrderFilled(
        venue=A, client_order_id=order.client_order_id, trade_id="new", side=Side.BUY,
        px=10000, qty=1, fee=0, fee_ccy="USDT", liquidity="taker",
        ts_event=world.now, ts_recv=world.now,
    )  # fmt: skip
    with pytest.raises(InvariantViolation, match="over-fill"):
        world.executor.on_event(bogus)


def test_duplicate_fill_events_are_counted_once(world):
    world.send(world.opportunity())
    world.settle()
    ex = world.executor
    oid = ex.finished[0].opportunity_id
    rows = world.journal.order_events()
    fill = next(e for e in rows if isinstance(e, OrderFilled) and e.venue == A)
    before = dict(world.ledger.totals[A])
    ex.on_event(msgspec.structs.replace(fill, ts_recv=world.now))
    assert world.ledger.totals[A] == before
    assert ex.race_counts() == {"duplicate_fill": 1}
    assert len(ex.finished) == 1
    assert ex.finished[0].opportunity_id == oid
    assert world.journal.totals().duplicate_fills == 1


def test_the_same_quotes_are_not_traded_twice_while_our_orders_take_them(world):
    """A second opportunity on books our legs are still taking (or took, with no book update
    since) is refused OWN_LIQUIDITY; a new book from the venue lifts it."""
    assert world.send(world.opportunity(qty=1000)) is None
    refusal = world.send(world.opportunity(qty=1000))  # same quotes, legs in flight
    assert refusal is not None
    assert refusal.code == RefusalCode.OWN_LIQUIDITY
    assert "in flight" in refusal.detail
    world.settle()
    assert world.executor.active == 0
    refusal = world.send(world.opportunity(qty=1000))  # done, but no book update since
    assert refusal is not None
    assert refusal.code == RefusalCode.OWN_LIQUIDITY
    assert "no book update" in refusal.detail
    world.advance(1)
    world.book(A, BIDS_A, ASKS_A)
    world.book(B, BIDS_B, ASKS_B)
    assert world.send(world.opportunity(qty=1000)) is None
    assert world.executor.stats.trades == 2
    assert world.executor.stats.refusals == {"OWN_LIQUIDITY": 2}

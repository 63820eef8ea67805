"""Triangular opportunities through the executor on a simulated venue (virtual clock): a
planted mispricing found and all three legs filled, the three-leg rollback when the middle
leg fails, and the flatten of the intermediate asset (BTC) left by a middle leg hedged at a
worse price."""

from __future__ import annotations

import pytest

from arb.core.orders import OrderState
from arb.core.types import Side
from arb.journal import open_journal
from tests.unit.tri_world import UNIT
from tests.unit.tri_world import V
from tests.unit.tri_world import World

pytestmark = pytest.mark.unit

DUST = UNIT // 100  # 0.01 USDT

# The ETH-BTC book after the market moved 2% up: a hedge of the middle leg (limit 0.05 + 10
# bps) cannot be done, so the planner unwinds the other two legs.
MOVED_ETHBTC = ([("0.05099", "2")], [("0.05100", "2"), ("0.05101", "10")])


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def _cids(world: World, opp_id: str) -> dict[str, OrderState]:
    return {o.client_order_id[len(opp_id) :]: o.state for o in world.executor.trade_orders(opp_id)}


def test_a_planted_mispricing_is_found_and_all_three_legs_fill(world, tmp_path):
    opp = world.detect("ETH-BTC")
    assert opp is not None, world.detector.last_refusal_detail
    assert opp.symbol == "USDT>BTC>ETH>USDT"
    assert [(leg.symbol, leg.side) for leg in opp.legs] == [
        ("BTC-USDT", Side.BUY),
        ("ETH-BTC", Side.BUY),
        ("ETH-USDT", Side.SELL),
    ]
    assert world.send(opp) is None
    world.settle()
    ex = world.executor
    assert ex.active == 0
    assert ex.stats.legs_sent == 3
    assert ex.stats.legs_filled == 3
    assert ex.stats.rollbacks == 0
    assert _cids(world, opp.id) == dict.fromkeys(("L0A0", "L1A0", "L2A0"), OrderState.FILLED)
    # The venue's balances moved exactly as priced: the USDT profit, the BTC rounding residue
    # (0.00000005 BTC, kept as inventory), no ETH.
    change = world.change()
    assert change["USDT"] == opp.inputs["home_out"] - opp.inputs["home_in"]
    assert change["BTC"] == opp.inputs["residue_a"] == 5 * UNIT // 10**8
    assert change["ETH"] == 0
    # net inventory back to home within rounding: the residue is worth 0.0025 USDT
    (trade,) = ex.finished
    assert 0 < trade.residual < DUST
    assert ex.unhedged_notional < DUST
    assert world.ledger.totals[V] == world.sim.totals()
    world.journal.flush()
    with open_journal(tmp_path / "journal.sqlite") as r:
        t = r.totals()
        assert t.decisions == {"TRADE": 1}
        assert t.orders == 3
        assert t.fills == 3
        assert [o.symbol for o in r.orders()] == ["BTC-USDT", "ETH-BTC", "ETH-USDT"]


def test_three_leg_rollback_when_the_middle_leg_fails(world, tmp_path):
    opp = world.detect("ETH-BTC")
    assert opp is not None
    assert world.send(opp) is None
    # The market moves before the orders arrive (5 ms): ETH-BTC's asks leave the limit.
    world.book("ETH-BTC", *MOVED_ETHBTC)
    world.settle()
    ex = world.executor
    assert ex.active == 0
    states = _cids(world, opp.id)
    assert states["L0A0"] is OrderState.FILLED
    assert states["L1A0"] is OrderState.CANCELED  # IOC: nothing at the limit
    assert states["L2A0"] is OrderState.FILLED
    leg1 = ex.order(V, opp.id + "L1A0")
    assert leg1 is not None
    assert leg1.filled_qty == 0
    # The planner unwound legs 0 and 2 (a hedge of leg 1 was beyond its slippage bound):
    # rollback orders are legs n + i = 3 (BTC-USDT) and 5 (ETH-USDT), reversed.
    rollbacks = [o for o in ex.trade_orders(opp.id) if ex.is_rollback(o)]
    assert {(o.symbol, o.side, o.filled_qty) for o in rollbacks} == {
        ("BTC-USDT", Side.SELL, opp.legs[0].qty),
        ("ETH-USDT", Side.BUY, opp.legs[2].qty),
    }
    assert sorted(o.client_order_id[len(opp.id) :] for o in rollbacks) == ["L3A0", "L5A0"]
    assert ex.stats.rollbacks == 1
    # no residual beyond dust: every non-home asset back where it started
    change = world.change()
    assert change["BTC"] == 0
    assert change["ETH"] == 0
    assert change["USDT"] < 0  # paid the spreads and six fees
    (trade,) = ex.finished
    assert trade.rollback
    assert trade.residual == 0
    assert ex.unhedged_notional == 0
    world.journal.flush()
    with open_journal(tmp_path / "journal.sqlite") as r:
        decisions = [rb.decision for rb in r.rollbacks()]
        assert "UNWIND" in decisions
        assert r.totals().fills == 4
        codes = [rb.code for rb in r.rollbacks()]
        assert codes[-1] == "UNWIND_SKIPPED: residual_qty=0"


def test_trade_pnl_counts_home_cash_only_and_the_rest_at_marks(world):
    opp = world.detect("ETH-BTC")
    assert opp is not None
    world.send(opp)
    world.settle()
    (trade,) = world.executor.finished
    # USDT change + the 0.00000005 BTC residue at the mark (0.0025 USDT)
    assert abs(trade.pnl - opp.expected_profit) < DUST


def test_a_rolled_back_cycle_cools_its_legs_down(world):
    opp = world.detect("ETH-BTC")
    assert opp is not None
    world.send(opp)
    world.book("ETH-BTC", *MOVED_ETHBTC)
    world.settle()
    assert world.executor.finished[0].rollback
    cooldowns = world.risk.state.cooldowns
    assert ("ETH-BTC", V) in cooldowns


def test_a_middle_leg_hedged_at_a_worse_price_leaves_no_intermediate_residual(world):
    opp = world.detect("ETH-BTC")
    assert opp is not None
    world.send(opp)
    # Only the venue moved (the engine's book still shows 0.05): the planner hedges ETH-BTC
    # until it escalates to a market order at 0.051, spending more BTC than leg 0 bought
    # (0.399 ETH * 0.051 + 0.1% fee = 0.020369349 BTC for 0.01997 BTC: 0.000399349 BTC short).
    world.venue_book("ETH-BTC", *MOVED_ETHBTC)
    world.settle()
    (trade,) = world.executor.finished
    ex = world.executor
    # The legs are fraction-balanced; the BTC residual is flattened on BTC-USDT (leg 0's
    # instrument) as flatten leg 2n + 0 = 6: 39.93 lots of 0.00001 -> 40, a market order since
    # the plan escalated (ETH-BTC had max_attempts rollback orders).
    (flat,) = [o for o in ex.trade_orders(opp.id) if o.client_order_id == opp.id + "L6A0"]
    assert (flat.symbol, flat.side, flat.qty, flat.filled_qty) == ("BTC-USDT", Side.BUY, 40, 40)
    assert ex.is_rollback(flat)
    # What is left is below half a BTC-USDT lot (0.000005 BTC, 0.25 USDT): 0.000000651 BTC.
    change = world.change()
    assert change["BTC"] == 651 * UNIT // 10**9
    assert change["ETH"] == 0
    assert 0 < trade.residual < 25 * UNIT // 100
    assert trade.reason == "UNWIND_SKIPPED: residual_qty=0"

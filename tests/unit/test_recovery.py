"""Restart recovery on simulated venues and a virtual clock: a process is "killed" mid-trade
(its journal closed, its executor dropped, the venues running on), a new process reads the
journal, restores the trade, asks the venues what became of its orders and finishes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from arb.core.events import MarketEvent
from arb.core.ledger import Ledger
from arb.core.messages import Command
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.opportunity import Opportunity
from arb.core.orders import OrderState
from arb.core.risk import RiskGate
from arb.core.types import Side
from arb.core.unwind import UnwindConfig
from arb.executor import Executor
from arb.executor import leg_number
from arb.journal import Journal
from arb.journal import Rollback
from arb.journal import open_journal
from arb.recovery import NOT_FOUND
from arb.recovery import NOT_PLACED
from arb.recovery import OpenTrade
from arb.recovery import SettleReport
from arb.recovery import is_finished
from arb.recovery import load_open_trades
from arb.recovery import settle
from tests.unit.exec_world import ASKS_B
from tests.unit.exec_world import FEE_PPM
from tests.unit.exec_world import MS
from tests.unit.exec_world import SYM
from tests.unit.exec_world import A
from tests.unit.exec_world import B
from tests.unit.exec_world import World
from venues.sim import SimVenue

SHALLOW_B = [(10100, 500), (10000, 10000)]  # 0.5 BTC at 101.00, then 100.00


class Clock:
    """Virtual time: every read moves it on by ``step`` ns."""

    def __init__(self, t: int, step: int = MS) -> None:
        self.t = t
        self.step = step

    def now_ns(self) -> int:
        self.t += self.step
        return self.t


class SimLookup:
    """A simulated venue that remembers every event it produced, and answers lookups with
    them (what a real venue's order and fills endpoints would say)."""

    def __init__(self, sim: SimVenue, history: dict[str, list[OrderEvent]], clock: Clock) -> None:
        self.venue = sim.venue
        self.sim = sim
        self.history = history
        self.clock = clock
        self.lookups: list[str] = []

    def submit(self, cmd: Command, now: int) -> None:
        self.sim.submit(cmd, now)

    def on_market(self, event: MarketEvent) -> None:
        self.sim.on_market(event)

    def due(self) -> int | None:
        return self.sim.due()

    def advance(self, now: int) -> list[OrderEvent]:
        evs = self.sim.advance(now)
        for e in evs:
            self.history.setdefault(e.client_order_id, []).append(e)
        return evs

    def balances(self) -> dict[str, int]:
        return self.sim.balances()

    async def lookup(self, cmd: PlaceOrder) -> list[OrderEvent]:
        self.lookups.append(cmd.client_order_id)
        now = self.clock.now_ns()
        evs = self.history.get(cmd.client_order_id)
        if not evs:
            return [
                OrderRejected(
                    venue=self.venue, client_order_id=cmd.client_order_id, reason=NOT_PLACED,
                    ts_event=now, ts_recv=now,
                )
            ]  # fmt: skip
        return [msgspec.structs.replace(e, ts_recv=now) for e in evs]


class Link:
    """The dead process's link to a venue: ``drop_sends`` loses every command (the process
    died between journaling and sending), ``drop_cancels`` every ``OrderCanceled`` (it died
    before they came in)."""

    def __init__(self, sim: SimVenue, *, drop_sends: bool = False, drop_cancels: bool = False):
        self.venue = sim.venue
        self.sim = sim
        self.drop_sends = drop_sends
        self.drop_cancels = drop_cancels
        self.dropped: list[OrderEvent] = []

    def submit(self, cmd: Command, now: int) -> None:
        if not self.drop_sends:
            self.sim.submit(cmd, now)

    def on_market(self, event: MarketEvent) -> None:
        self.sim.on_market(event)

    def due(self) -> int | None:
        return self.sim.due()

    def advance(self, now: int) -> list[OrderEvent]:
        out: list[OrderEvent] = []
        for e in self.sim.advance(now):
            lost = self.drop_cancels and isinstance(e, OrderCanceled)
            (self.dropped if lost else out).append(e)
        return out

    def balances(self) -> dict[str, int]:
        return self.sim.balances()


def dead_executor(w: World, venues: dict[str, Link]) -> Executor:
    """The process that will die: the world's journal, risk and ledger, our own links."""
    return Executor(
        venues=venues, instruments=w.insts, books=w.books, risk=w.risk, ledger=w.ledger,
        journal=w.journal, rollback=UnwindConfig(), taker_fee_ppm={A: FEE_PPM, B: FEE_PPM},
    )  # fmt: skip


def run_dead(w: World, ex: Executor, venues: dict[str, Link], ms: int) -> None:
    for _ in range(ms):
        w.now += MS
        for v in sorted(venues):
            for ev in venues[v].advance(w.now):
                ex.on_event(ev)


class Restarted:
    """The new process: journal reopened, ledger from the venues' balances, fresh risk."""

    def __init__(self, w: World, path: Path, history: dict[str, list[OrderEvent]], t: int):
        self.clock = Clock(t)
        self.journal = Journal(path)
        self.journal.begin_run(config_digest="test", run_id="restart")
        self.ledger = Ledger({v: s.balances() for v, s in w.sims.items()})
        self.risk = RiskGate(w.risk.config)
        self.venues = {v: SimLookup(s, history, self.clock) for v, s in w.sims.items()}
        self.executor = Executor(
            venues=self.venues,
            instruments=w.insts,
            books=w.books,
            risk=self.risk,
            ledger=self.ledger,
            journal=self.journal,
            rollback=UnwindConfig(),
            taker_fee_ppm={A: FEE_PPM, B: FEE_PPM},
        )

    def recover(self, timeout_s: float = 10.0) -> tuple[list[OpenTrade], SettleReport]:
        trades = load_open_trades(self.journal)
        now = self.clock.now_ns()
        before = self.journal.digest()
        for t in trades:
            self.executor.restore(t, now)
        assert self.journal.digest() == before  # restore writes nothing
        report = asyncio.run(
            settle(
                self.executor, self.venues, trades, now_ns=self.clock.now_ns,
                timeout_s=timeout_s, poll_s=0,
            )
        )  # fmt: skip
        return trades, report


def crash(w: World, until_ms: float) -> tuple[dict[str, list[OrderEvent]], int]:
    """Kill the process now: close its journal, then let the venues run on until ``until_ms``
    later (what they did meanwhile, and before, is what their lookups will say)."""
    w.journal.close()
    history: dict[str, list[OrderEvent]] = {}
    with open_journal(w.journal.path) as dead:  # what the dead process received
        for ev in dead.order_events():
            history.setdefault(ev.client_order_id, []).append(ev)
    end = w.now + round(until_ms * MS)
    while True:
        due = [t for s in w.sims.values() if (t := s.due()) is not None and t <= end]
        if not due:
            break
        t = min(due)
        for s in w.sims.values():
            for ev in s.advance(t):
                history.setdefault(ev.client_order_id, []).append(ev)
    return history, end


def state_of(ex: Executor, venue: str, cid: str) -> OrderState:
    order = ex.order(venue, cid)
    assert order is not None
    return order.state


def assert_consistent(r: Restarted, w: World) -> None:
    """Flat, nothing reserved or open, the ledger equal to the venues, the journal finished."""
    ex = r.executor
    assert ex.active == 0
    assert ex.unhedged_notional == 0
    assert w.net_btc() == 0
    for v, sim in w.sims.items():
        assert r.ledger.totals[v] == sim.totals()
        assert all(x == 0 for x in r.ledger.reserved[v].values())
    assert r.risk.state.open_orders == 0
    r.journal.flush()
    t = r.journal.totals()
    assert t.duplicate_fills == 0  # nothing journaled twice
    acks = [e.client_order_id for e in r.journal.order_events() if isinstance(e, OrderAccepted)]
    assert len(acks) == len(set(acks))
    assert load_open_trades(r.journal) == []  # the journal now shows it finished


def test_a_trade_killed_half_way_is_restored_settled_and_unwound(tmp_path):
    w = World(tmp_path, sim_b={"order_latency": 50.0})
    w.book(B, SHALLOW_B, ASKS_B)
    opp = w.opportunity(qty=1000)  # buy 1 BTC on A, sell 1 BTC on B
    assert w.send(opp) is None
    w.advance(20)  # A's ack and fill are journaled; B's order has not arrived yet
    a_cid, b_cid = opp.id + "L0A0", opp.id + "L1A0"
    a_order = w.executor.order(A, a_cid)
    assert a_order is not None
    assert a_order.state is OrderState.FILLED
    assert state_of(w.executor, B, b_cid) is OrderState.PENDING_NEW
    history, t = crash(w, until_ms=300)  # B filled 0.5 BTC meanwhile, the rest cancelled
    assert [type(e) for e in history[b_cid]] == [OrderAccepted, OrderFilled, OrderCanceled]
    w.now = t
    w.book(B, [(10000, 10000)], ASKS_B)  # B's 101.00 is gone: a hedge is beyond the bound

    r = Restarted(w, tmp_path / "journal.sqlite", history, t)
    trades, report = r.recover()

    (trade,) = trades
    assert trade.opportunity == opp
    assert [o.client_order_id for o in trade.orders] == [a_cid, b_cid]
    assert trade.started_ns == opp.ts
    assert report.restored == 1
    assert report.finished == 1
    assert report.still_open == []
    assert report.unhedged == 0
    assert report.lookup_errors == {}
    assert report.events_applied == 3  # B's ack, fill and cancel
    assert r.venues[A].lookups == []  # A's order was terminal in the journal
    assert r.venues[B].lookups == [b_cid]
    ex = r.executor
    (done,) = ex.finished
    assert done.opportunity_id == opp.id
    assert done.rollback
    assert done.residual == 0
    (unwind,) = [o for o in ex.trade_orders(opp.id) if ex.is_rollback(o)]
    assert (unwind.venue, unwind.side, unwind.qty) == (A, Side.SELL, 500)
    assert unwind.client_order_id == opp.id + "L2A0"
    assert unwind.state is OrderState.FILLED
    assert ex.stats.restored == 1
    assert ex.stats.trades == 0  # sent by the dead process
    assert ex.stats.rollback_orders == 1
    assert (ex.stats.legs_filled, ex.stats.partial_fills) == (1, 1)
    assert [x.decision for x in r.journal.rollbacks()] == ["UNWIND", "DONE"]
    assert len(r.journal.orders()) == 3
    assert len(r.journal.pnl()) == 1
    assert_consistent(r, w)
    r.journal.close()


def test_an_order_the_venue_never_saw_is_not_placed_and_the_planner_hedges(tmp_path):
    w = World(tmp_path)
    links = {A: Link(w.sims[A]), B: Link(w.sims[B], drop_sends=True)}
    ex = dead_executor(w, links)
    opp = w.opportunity(qty=1000)
    assert ex.on_opportunity(opp, w.now) is None  # both journaled; B's never left
    run_dead(w, ex, links, 20)
    assert state_of(ex, A, opp.id + "L0A0") is OrderState.FILLED
    history, t = crash(w, until_ms=100)
    assert opp.id + "L1A0" not in history

    r = Restarted(w, tmp_path / "journal.sqlite", history, t)
    _, report = r.recover()

    assert report.finished == 1
    b_leg = r.executor.order(B, opp.id + "L1A0")
    assert b_leg is not None
    assert (b_leg.state, b_leg.reject_reason) == (OrderState.REJECTED, NOT_PLACED)
    (hedge,) = [o for o in r.executor.trade_orders(opp.id) if r.executor.is_rollback(o)]
    assert (hedge.venue, hedge.side, hedge.qty, hedge.state) == (
        B, Side.SELL, 1000, OrderState.FILLED,
    )  # fmt: skip
    assert [x.decision for x in r.journal.rollbacks()] == ["HEDGE", "DONE"]
    assert_consistent(r, w)
    r.journal.close()


def test_a_rollback_order_in_flight_at_the_crash_is_restored_as_a_rollback(tmp_path):
    w = World(tmp_path)
    w.book(B, SHALLOW_B, ASKS_B)
    opp = w.opportunity(qty=1000)
    w.send(opp)
    w.advance(6)  # both legs reached their venues: A filled 1 BTC, B 0.5
    w.book(B, [(10000, 10000)], ASKS_B)  # B's 101.00 is gone
    w.advance(2)  # the answers: unwind 0.5 on A, sent, not answered yet
    unwind_cid = opp.id + "L2A0"
    assert w.executor.order(A, unwind_cid) is not None
    assert state_of(w.executor, A, unwind_cid) is OrderState.PENDING_NEW
    history, t = crash(w, until_ms=100)

    r = Restarted(w, tmp_path / "journal.sqlite", history, t)
    (trade,), report = r.recover()

    assert [o.client_order_id for o in trade.orders] == [opp.id + "L0A0", opp.id + "L1A0",
                                                          unwind_cid]  # fmt: skip
    ex = r.executor
    order = ex.order(A, unwind_cid)
    assert order is not None
    assert ex.is_rollback(order)
    assert order.state is OrderState.FILLED
    assert report.finished == 1
    assert ex.stats.rollback_orders == 0  # none needed beyond the restored one
    assert ex.finished[0].rollback
    assert [x.decision for x in r.journal.rollbacks()] == ["UNWIND", "DONE"]
    assert_consistent(r, w)
    r.journal.close()


def test_a_rolled_back_trade_is_finished_and_not_restored(tmp_path):
    w = World(tmp_path, sim_b={"reject_rate": 1.0})
    w.send(w.opportunity(qty=1000))  # B rejects: unwound on A, DONE
    w.settle()
    w.journal.flush()
    assert w.executor.active == 0
    decisions = [x.decision for x in w.journal.rollbacks()]
    assert len(decisions) > 1
    assert decisions[-1] == "DONE"  # hedges retried on B, escalated, then DONE
    assert load_open_trades(w.journal) == []
    w.close()


def test_a_cancel_lost_in_the_crash_comes_from_the_lookup_and_known_events_count_once(tmp_path):
    w = World(tmp_path)
    w.book(B, SHALLOW_B, ASKS_B)
    links = {A: Link(w.sims[A]), B: Link(w.sims[B], drop_cancels=True)}
    ex = dead_executor(w, links)
    opp = w.opportunity(qty=1000)
    ex.on_opportunity(opp, w.now)
    run_dead(w, ex, links, 20)  # B's ack and fill of 0.5 journaled, its cancel never came
    b_cid = opp.id + "L1A0"
    assert state_of(ex, B, b_cid) is OrderState.PARTIALLY_FILLED
    history, t = crash(w, until_ms=50)
    (lost,) = links[B].dropped
    history[b_cid].append(lost)  # the venue has it all the same
    w.now = t
    w.book(B, [(10000, 10000)], ASKS_B)

    r = Restarted(w, tmp_path / "journal.sqlite", history, t)
    _, report = r.recover()

    assert r.venues[B].lookups[0] == b_cid
    assert report.events_known == 2  # B's ack and fill again: not applied, not journaled
    assert report.events_applied == 1  # its cancel
    b = r.executor.order(B, b_cid)
    assert b is not None
    assert (b.state, b.filled_qty, b.races) == (OrderState.CANCELED, 500, {})
    assert report.finished == 1
    assert_consistent(r, w)
    r.journal.close()


def test_a_happy_trade_is_finished_without_a_rollback_row(tmp_path):
    w = World(tmp_path)
    w.send(w.opportunity(qty=1000))
    w.settle()
    w.journal.flush()
    assert w.journal.rollbacks() == []
    assert load_open_trades(w.journal) == []
    w.close()


def test_restore_rebuilds_orders_slots_and_reservations_and_dedups_fills(tmp_path):
    w = World(tmp_path, sim_b={"order_latency": 50.0})
    opp = w.opportunity(qty=1000)
    w.send(opp)
    w.advance(20)
    history, t = crash(w, until_ms=10)  # B's order still on its way
    r = Restarted(w, tmp_path / "journal.sqlite", history, t)
    (trade,) = load_open_trades(r.journal)
    r.executor.restore(trade, t)
    ex = r.executor
    assert ex.active_ids == [opp.id]
    a = ex.order(A, opp.id + "L0A0")
    b = ex.order(B, opp.id + "L1A0")
    assert a is not None
    assert b is not None
    assert (a.state, a.filled_qty) == (OrderState.FILLED, 1000)
    assert b.state is OrderState.PENDING_NEW
    # what is not terminal holds an open-order slot and its reservation, nothing else moved
    assert r.risk.state.open_orders == 1
    assert r.ledger.reserved[B] == {"BTC": 10**18}
    assert r.ledger.totals == {v: s.balances() for v, s in w.sims.items()}
    fill = next(e for e in trade.events if isinstance(e, OrderFilled))
    before = dict(r.ledger.totals[A])
    ex.on_event(msgspec.structs.replace(fill, ts_recv=t + MS))  # the same trade id again
    assert a.filled_qty == 1000
    assert a.races == {"duplicate_fill": 1}
    assert r.ledger.totals[A] == before
    r.journal.close()


def test_restore_refuses_an_order_id_of_another_scheme(tmp_path):
    w = World(tmp_path)
    opp = w.opportunity()
    cmd = PlaceOrder(
        venue=A, symbol=SYM, client_order_id="X1L0A0", side=Side.BUY, order_type=OrderType.IOC,
        px=10000, qty=1000, ts=w.now, opportunity_id=opp.id,
    )  # fmt: skip
    trade = OpenTrade(opportunity=opp, orders=[cmd], cancels=[], events=[], started_ns=w.now)
    with pytest.raises(Exception, match="neither a leg nor a rollback order"):
        w.executor.restore(trade, w.now)
    w.close()


def test_leg_numbers_follow_the_client_order_id_scheme():
    assert leg_number("S17N3", "S17N3L0A0") == 0
    assert leg_number("S17N3", "S17N3L3A2") == 3
    assert leg_number("S17N3", "S17N31L0A0") == -1  # another opportunity's id
    assert leg_number("S17N3", "S17N3LxA0") == -1


# -- the journal's "finished" rule, on hand-made trades ------------------------------------------


def _opp(w: World) -> Opportunity:
    return w.opportunity(qty=1000)


def _place(opp: Opportunity, leg: int, venue: str, side: Side, qty: int = 1000) -> PlaceOrder:
    return PlaceOrder(
        venue=venue, symbol=SYM, client_order_id=f"{opp.id}L{leg}A0", side=side,
        order_type=OrderType.IOC, px=10000, qty=qty, ts=0, opportunity_id=opp.id,
    )  # fmt: skip


def _fill(cmd: PlaceOrder, qty: int, tid: str, ts: int) -> OrderFilled:
    return OrderFilled(
        venue=cmd.venue, client_order_id=cmd.client_order_id, trade_id=tid, side=cmd.side,
        px=cmd.px, qty=qty, fee=0, fee_ccy="USDT", liquidity="taker", ts_event=ts, ts_recv=ts,
    )  # fmt: skip


def _cancel(cmd: PlaceOrder, ts: int) -> OrderCanceled:
    return OrderCanceled(
        venue=cmd.venue, client_order_id=cmd.client_order_id, reason="IOC_REMAINDER",
        ts_event=ts, ts_recv=ts,
    )  # fmt: skip


def _done(opp: Opportunity, ts: int, decision: str = "DONE") -> Rollback:
    return Rollback(
        ts=ts, opportunity_id=opp.id, decision=decision, residual_qty=0, residual_notional=0,
        cost=0, code="",
    )  # fmt: skip


def test_is_finished_follows_the_journal_rule(tmp_path):
    w = World(tmp_path)
    opp = _opp(w)
    a, b = _place(opp, 0, A, Side.BUY), _place(opp, 1, B, Side.SELL)
    unwind = _place(opp, 2, A, Side.SELL, qty=500)

    def trade(*events: OrderEvent, orders: tuple[PlaceOrder, ...] = (a, b)) -> OpenTrade:
        return OpenTrade(
            opportunity=opp, orders=list(orders), cancels=[], events=list(events), started_ns=0
        )

    balanced = trade(_fill(a, 1000, "1", 1), _fill(b, 1000, "2", 2))
    assert is_finished(balanced, None)
    assert not is_finished(trade(_fill(a, 1000, "1", 1)), None)  # B not terminal
    half = (_fill(a, 1000, "1", 1), _fill(b, 500, "2", 2), _cancel(b, 3))
    assert not is_finished(trade(*half), None)  # imbalanced, no DONE
    assert is_finished(trade(*half), _done(opp, 3))  # the planner said DONE after the fills
    assert not is_finished(trade(*half), _done(opp, 3, "UNWIND"))
    assert not is_finished(trade(*half), _done(opp, 1))  # a fill came after the DONE
    nothing = (_cancel(a, 1), _cancel(b, 1))
    assert is_finished(trade(*nothing), None)  # nothing filled is balanced
    # a rollback order: only a DONE after the last fill finishes it
    rolled = (*half, _fill(unwind, 500, "3", 5))
    assert not is_finished(trade(*rolled, orders=(a, b, unwind)), None)
    assert is_finished(trade(*rolled, orders=(a, b, unwind)), _done(opp, 5))
    # a duplicate of a fill counts once: 1000 + 1000 would over-fill, 500 + dup is short
    dup = (_fill(a, 1000, "1", 1), _fill(b, 500, "2", 2), _fill(b, 500, "2", 3))
    assert not is_finished(trade(*dup), _done(opp, 9))  # B still open (500 of 1000)
    w.close()


def test_an_acknowledged_order_the_venue_forgot_ends_canceled_not_found(tmp_path):
    w = World(tmp_path)
    w.book(A, [(9990, 5000)], [(10000, 500), (10050, 10000)])  # 0.5 BTC at 100.00 on A
    links = {A: Link(w.sims[A], drop_cancels=True), B: Link(w.sims[B])}
    ex = dead_executor(w, links)
    opp = w.opportunity(qty=1000)
    ex.on_opportunity(opp, w.now)
    run_dead(w, ex, links, 20)  # A: ack and 0.5 filled journaled, no cancel; B filled 1
    a_cid = opp.id + "L0A0"
    assert state_of(ex, A, a_cid) is OrderState.PARTIALLY_FILLED
    history, t = crash(w, until_ms=50)
    del history[a_cid]  # e.g. OKX: gone from its order endpoint
    w.now = t
    w.book(A, [(9990, 5000)], [(10050, 10000)])

    r = Restarted(w, tmp_path / "journal.sqlite", history, t)
    _, report = r.recover()

    a = r.executor.order(A, a_cid)
    assert a is not None
    assert (a.state, a.cancel_reason, a.filled_qty) == (OrderState.CANCELED, NOT_FOUND, 500)
    assert report.finished == 1
    assert_consistent(r, w)
    r.journal.close()


def test_a_balanced_trade_handed_to_restore_is_kept_finished_and_nothing_is_journaled(tmp_path):
    w = World(tmp_path)
    opp = w.opportunity(qty=1000)
    w.send(opp)
    w.settle()
    history, t = crash(w, until_ms=10)
    r = Restarted(w, tmp_path / "journal.sqlite", history, t)
    trade = OpenTrade(
        opportunity=opp, orders=r.journal.orders(), cancels=[], events=r.journal.order_events(),
        started_ns=opp.ts,
    )  # fmt: skip
    _, report = r.recover()  # nothing open
    assert report.restored == 0
    before = r.journal.digest()
    r.executor.restore(trade, t)
    assert r.executor.active == 0
    assert r.executor.stats.restored == 1
    assert r.executor.finished == []
    assert r.journal.digest() == before
    assert r.risk.state.open_orders == 0
    r.journal.close()

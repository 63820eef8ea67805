"""Executor: fires an opportunity's legs, follows every order, and rolls back broken trades.

The shell around the pure core: it is the only part that sends commands to venues. It owns
one ``Order`` (``arb.core.orders``, the transition table) per client order id, asks the pure
rollback planner (``arb.core.unwind.plan``) what to do whenever a trade's orders change or its
timer fires, reports to the ``RiskGate`` and journals everything. Time comes in as arguments
(the replay clock or the live clock), so the same executor runs in replay and live; the live
engine calls these methods from its event loop, replay from its time-ordered loop.

Life of a trade:

1. ``on_opportunity``: the books the legs were priced on must still be valid; the risk gate
   checks limits (quote age at *send* time, notionals, unhedged, open orders, rate, halts).
   A refusal is journaled with its code. Otherwise every leg goes out at once as a limit IOC at
   the detector's limit price (client order id ``<opportunity>L<leg>A0``), and what each order
   may spend is reserved in the ``Ledger`` so the next opportunity cannot size on it.
2. ``on_event``: the event is applied to its ``Order`` (an impossible transition raises
   ``InvariantViolation``; duplicates and late fills are handled there) and journaled; a new
   fill moves the ledger; a terminal event releases the reservation and the open-order slot.
3. After each change, ``plan`` decides: WAIT (orders in flight; cancel those past their
   timeout), HEDGE / UNWIND (send the rollback orders), ESCALATE (marketable orders at the end
   of the budget) or DONE. At DONE the trade's PnL goes to the risk gate (daily loss), its legs
   count as successes or failures (the venue breaker), a rollback starts the cool-down, and
   what is left unhedged stays in the unhedged total, which the risk gate limits.

Rollback orders go out even when trading is halted (kill switch, daily loss): they reduce
exposure. A late fill on a finished trade re-opens it (it is real money).

Restart: ``restore`` takes over a trade an earlier process left unfinished, rebuilt from the
journal (``arb.recovery``), without journaling or sending anything; the venues' answers about
its orders then come in through ``on_event`` like any event, and the planner finishes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Protocol

import msgspec

from arb.core.contracts import base_amount as contract_base_amount
from arb.core.contracts import fills_base_amount
from arb.core.contracts import pnl_currency
from arb.core.contracts import quote_notional
from arb.core.errors import InvariantViolation
from arb.core.instruments import Instrument
from arb.core.ledger import Ledger
from arb.core.messages import CancelOrder
from arb.core.messages import Command
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.messages import client_order_id
from arb.core.money import AMOUNT_PRECISION
from arb.core.opportunity import Leg
from arb.core.opportunity import Opportunity
from arb.core.orders import Order
from arb.core.risk import Refusal
from arb.core.risk import RefusalCode
from arb.core.risk import RiskGate
from arb.core.sync import BookSync
from arb.core.types import Side
from arb.core.unwind import DONE_BALANCED
from arb.core.unwind import NS_PER_MS
from arb.core.unwind import Decision
from arb.core.unwind import LegFills
from arb.core.unwind import Plan
from arb.core.unwind import UnwindConfig
from arb.core.unwind import plan
from arb.core.unwind import unit_value
from arb.ports import ExecutionVenue

if TYPE_CHECKING:
    from arb.recovery import OpenTrade

__all__ = ["ExecStats", "Executor", "TradeRecord", "leg_number"]

Key = tuple[str, str]
UNIT: int = 10**AMOUNT_PRECISION
USD_STABLECOINS = frozenset({"USDT", "USDC", "FDUSD", "BUSD"})
_CID_SUFFIX = re.compile(r"L(\d+)A(\d+)")


def leg_number(opportunity_id: str, client_order_id: str) -> int:
    """``k`` of a client order id ``<opportunity_id>L<k>A<attempt>``
    (``arb.core.messages.client_order_id``); -1 for an id of another scheme or opportunity.

    ``k < n`` (``n`` legs) is leg ``k``'s own order, ``n + i`` a hedge or unwind of leg ``i``,
    ``2n + i`` a flatten order on leg ``i``'s instrument (``arb.core.unwind``).
    """
    if not client_order_id.startswith(opportunity_id):
        return -1
    m = _CID_SUFFIX.fullmatch(client_order_id[len(opportunity_id) :])
    return int(m.group(1)) if m is not None else -1


class Sink(Protocol):
    """What the executor journals (``arb.journal.Journal`` implements it)."""

    def record_opportunity(self, opp: Opportunity) -> bool: ...
    def record_decision(
        self, *, ts: int, opportunity_id: str, decision: str, code: str = ""
    ) -> None: ...
    def record_command(self, cmd: Command) -> bool: ...
    def record_event(self, ev: OrderEvent) -> bool: ...
    def record_rollback(
        self,
        *,
        ts: int,
        opportunity_id: str,
        decision: str,
        residual_qty: int,
        residual_notional: int,
        cost: int,
        code: str = "",
    ) -> None: ...
    def record_pnl(self, *, ts: int, realized: int, fees: int, unhedged_notional: int) -> None: ...


class ExecStats(msgspec.Struct, kw_only=True):
    """Counters for the report (money at AMOUNT_PRECISION in the home currency)."""

    opportunities: int = 0
    trades: int = 0
    """Opportunities whose legs were sent."""
    refusals: dict[str, int] = msgspec.field(default_factory=dict)
    legs_sent: int = 0
    legs_filled: int = 0
    """Leg orders (not rollback orders) that filled completely."""
    partial_fills: int = 0
    """Leg orders that ended with part of their quantity filled."""
    legs_unfilled: int = 0
    """Leg orders that ended with nothing filled (rejected, or no liquidity left)."""
    rejects: int = 0
    rollbacks: int = 0
    """Trades that needed at least one rollback order."""
    rollback_orders: int = 0
    escalations: int = 0
    rollback_loss: int = 0
    """What rollback orders cost against the legs' prices (hedge: vs the leg's limit;
    unwind: vs the leg's average fill), plus their fees. Positive = money lost."""
    max_unhedged: int = 0
    by_kind: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    """Per strategy (``Opportunity.kind``): ``opportunities`` and ``trades``."""
    unknown_events: int = 0
    """Events for client order ids this executor never sent (journaled, otherwise ignored)."""
    restored: int = 0
    """Trades of an earlier process taken over with ``restore``. Their orders were counted
    (``trades``, ``legs_sent``) by the process that sent them, and their journaled events are
    not counted again; what this process learns and does from then on is counted here (the
    venues' answers: ``rejects``; their outcome when they finish: ``legs_filled``,
    ``partial_fills``, ``legs_unfilled``; new rollback orders and their cost)."""


class TradeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One finished trade, for the report."""

    opportunity_id: str
    kind: str
    """The strategy: ``spatial``, ``basis`` or ``triangular``."""
    symbol: str
    ts_start: int
    ts_done: int
    expected_profit: int
    pnl: int
    """Realized PnL: proceeds - costs - fees, with any residual valued at the marks."""
    fees: int
    residual: int
    """Unhedged notional left (home value, absolute)."""
    rollback: bool
    reason: str


class _LegState:
    __slots__ = ("inst", "leg", "orders", "rollbacks")

    def __init__(self, leg: Leg, inst: Instrument) -> None:
        self.leg = leg
        self.inst = inst
        self.orders: list[Order] = []
        self.rollbacks: list[Order] = []

    def fills(self) -> LegFills:
        return LegFills(
            leg=self.leg, inst=self.inst, orders=tuple(self.orders), rollbacks=tuple(self.rollbacks)
        )


class _Trade:
    __slots__ = (
        "done",
        "fills",
        "last_plan_ns",
        "legs",
        "opp",
        "reported_pnl",
        "rollback_cost",
        "settled",
        "start_ns",
        "unhedged",
    )

    def __init__(self, opp: Opportunity, legs: list[_LegState], start_ns: int) -> None:
        self.opp = opp
        self.legs = legs
        self.start_ns = start_ns
        self.done = False
        self.last_plan_ns = start_ns
        self.rollback_cost = 0
        self.unhedged = 0
        self.reported_pnl = 0
        self.settled = False  # finished once: legs counted, risk released
        self.fills: list[OrderFilled] = []
        """Every new fill of the trade's orders (legs and rollbacks), in arrival order."""

    def orders(self) -> list[Order]:
        return [o for ls in self.legs for o in (*ls.orders, *ls.rollbacks)]

    def leg_of(self, venue: str, symbol: str) -> _LegState:
        for ls in self.legs:
            if ls.leg.venue == venue and ls.leg.symbol == symbol:
                return ls
        raise InvariantViolation(f"opportunity {self.opp.id}: no leg on {venue} {symbol}")


class Executor:
    """Sends trades and rollbacks to ``venues``; see the module docstring.

    Parameters
    ----------
    venues
        Venue id -> execution venue.
    instruments
        ``(venue, symbol) -> Instrument`` of every tradable book.
    books
        ``(venue, symbol) -> BookSync`` the engine keeps: for the send-time validity check,
        quote ages, rollback prices and marks.
    risk, ledger, journal
        The risk gate, the inventory, and where every decision, order and event is written.
    rollback
        Rollback planner limits.
    taker_fee_ppm
        Expected taker fee per venue, for the reservation of buy orders.
    """

    def __init__(
        self,
        *,
        venues: Mapping[str, ExecutionVenue],
        instruments: Mapping[Key, Instrument],
        books: Mapping[Key, BookSync],
        risk: RiskGate,
        ledger: Ledger,
        journal: Sink,
        rollback: UnwindConfig,
        taker_fee_ppm: Mapping[str, int],
    ) -> None:
        self.venues = venues
        self.instruments = instruments
        self.books = books
        self.risk = risk
        self.ledger = ledger
        self.journal = journal
        self.rollback = rollback
        self.taker_fee_ppm = dict(taker_fee_ppm)
        self.stats = ExecStats()
        self.finished: list[TradeRecord] = []
        self.marks: dict[str, int] = {}
        """Home value of one unit of each asset, from the latest valid mid of its books."""
        self._trades: dict[str, _Trade] = {}
        self._active: dict[str, _Trade] = {}
        self._orders: dict[Key, tuple[_Trade, Order]] = {}
        self._unhedged: dict[str, int] = {}
        self._rollback_keys: set[Key] = set()
        self.on_trade_done: Callable[[Opportunity, list[OrderFilled], int], None] | None = None
        """Called once per trade when it first finishes, with its fills (a strategy that holds
        positions, e.g. basis, books its entry or exit there)."""
        self._ended_on: dict[Key, int] = {}
        """(venue, symbol) -> when our last order on that book ended (``ts_recv``)."""
        self._ledger_has_fills: set[Key] = set()  # restored orders whose fills the ledger has
        self._realized = 0

    # -- read-outs ---------------------------------------------------------------------------

    @property
    def active(self) -> int:
        """Trades not finished (orders in flight or a rollback under way)."""
        return len(self._active)

    @property
    def unhedged_notional(self) -> int:
        """Unhedged notional across venues now: the residuals of all trades (home value)."""
        return sum(self._unhedged.values())

    @property
    def realized_pnl(self) -> int:
        return self._realized

    @property
    def active_ids(self) -> list[str]:
        """Opportunity ids of the trades not finished, in the order they started."""
        return list(self._active)

    def trade_orders(self, opportunity_id: str) -> list[Order]:
        """Every order of a trade (legs, then rollback orders, leg by leg); [] if unknown."""
        trade = self._trades.get(opportunity_id)
        return trade.orders() if trade is not None else []

    def order(self, venue: str, cid: str) -> Order | None:
        entry = self._orders.get((venue, cid))
        return entry[1] if entry is not None else None

    def next_timer(self) -> int | None:
        """Earliest time a trade must be re-planned without an event (order timeout, budget
        escalation, budget end); ``None`` when nothing is pending."""
        cfg = self.rollback
        best: int | None = None
        timeout = cfg.order_timeout_ms * NS_PER_MS
        for t in self._active.values():
            cands = [
                t.start_ns + (cfg.time_budget_ms - cfg.escalation_lead_ms) * NS_PER_MS,
                t.start_ns + cfg.time_budget_ms * NS_PER_MS,
                t.last_plan_ns + timeout,  # a periodic look while the trade is open
            ]
            cands.extend(o.ts_sent + timeout for o in t.orders() if not o.is_terminal)
            for c in cands:
                if c > t.last_plan_ns and (best is None or c < best):
                    best = c
        return best

    # -- opportunities -----------------------------------------------------------------------

    def on_opportunity(self, opp: Opportunity, now: int) -> Refusal | None:
        """Trade ``opp`` now, or refuse it; return the refusal (journaled either way)."""
        st = self.stats
        st.opportunities += 1
        kind = st.by_kind.setdefault(opp.kind, {"opportunities": 0, "trades": 0})
        kind["opportunities"] += 1
        self.journal.record_opportunity(opp)
        refusal = self._books_refusal(opp)
        if refusal is not None and refusal.code == RefusalCode.OWN_LIQUIDITY:
            refusal = self.risk.halt_refusal(opp, now) or refusal
        if refusal is None:
            quote_ts = {
                leg.venue: self.books[(leg.venue, leg.symbol)].book.ts_recv for leg in opp.legs
            }
            refusal = self.risk.check(opp, now, quote_ts=quote_ts)
        else:
            counts = self.risk.state.refusal_counts
            counts[refusal.code] = counts.get(refusal.code, 0) + 1
        if refusal is not None:
            st.refusals[refusal.code] = st.refusals.get(refusal.code, 0) + 1
            self.journal.record_decision(
                ts=now, opportunity_id=opp.id, decision="REFUSED", code=refusal.code
            )
            return refusal
        self.journal.record_decision(ts=now, opportunity_id=opp.id, decision="TRADE")
        legs = [_LegState(leg, self.instruments[(leg.venue, leg.symbol)]) for leg in opp.legs]
        trade = _Trade(opp, legs, now)
        self._trades[opp.id] = trade
        self._active[opp.id] = trade
        st.trades += 1
        kind["trades"] += 1
        cmds = [
            PlaceOrder(
                venue=leg.venue,
                symbol=leg.symbol,
                client_order_id=client_order_id(opp.id, i),
                side=leg.side,
                order_type=OrderType.IOC,
                px=leg.px,
                qty=leg.qty,
                ts=now,
                opportunity_id=opp.id,
            )
            for i, leg in enumerate(opp.legs)
        ]
        for ls, cmd in zip(legs, cmds, strict=True):
            ls.orders.append(self._track(trade, ls, cmd))
            st.legs_sent += 1
        for cmd in cmds:  # all legs at once: nothing between the sends
            self.venues[cmd.venue].submit(cmd, now)
        return None

    def _books_refusal(self, opp: Opportunity) -> Refusal | None:
        for leg in opp.legs:
            key = (leg.venue, leg.symbol)
            sync = self.books.get(key)
            if sync is None or not sync.valid:
                why = "no book" if sync is None else f"book invalid ({sync.last_failure})"
                return Refusal(
                    code=RefusalCode.STALE_BOOK.value,
                    detail=f"{leg.venue} {leg.symbol}: {why} at send time",
                )
            # Our own orders take liquidity the venue's book still shows until it updates:
            # an order in flight on this book, or one that ended after the book's last update,
            # means the quotes may be the ones we took.
            busy = any(
                not o.is_terminal and (o.venue, o.symbol) == key
                for t in self._active.values()
                for o in t.orders()
            )
            if busy or sync.book.ts_recv <= self._ended_on.get(key, -1):
                return Refusal(
                    code=RefusalCode.OWN_LIQUIDITY.value,
                    detail=f"{leg.venue} {leg.symbol}: "
                    + ("our order is in flight" if busy else "no book update since our order"),
                )
        return None

    def _track(self, trade: _Trade, ls: _LegState, cmd: PlaceOrder) -> Order:
        order = Order.from_place(cmd, ls.inst)
        key = (cmd.venue, cmd.client_order_id)
        if key in self._orders:
            raise InvariantViolation(f"client order id {cmd.client_order_id} on {cmd.venue} reused")
        self._orders[key] = (trade, order)
        self._reserve(cmd, ls.inst)
        self.journal.record_command(cmd)
        return order

    def _reserve(self, cmd: PlaceOrder, inst: Instrument) -> None:
        # Hold what the order may use (spot: notional + fee, or base; contracts: the margin
        # it may add + fee) at its price; a market order at the worst level it would reach.
        px = cmd.px
        if cmd.order_type is OrderType.MARKET:
            px = self._price(cmd.venue, cmd.symbol, cmd.side, cmd.qty) or 0
        fee_ppm = self.taker_fee_ppm.get(cmd.venue, 0)
        self.ledger.reserve_order(inst, cmd.client_order_id, cmd.side, px, cmd.qty, fee_ppm)

    # -- events ------------------------------------------------------------------------------

    def on_event(self, ev: OrderEvent, *, replan: bool = True) -> None:
        """Apply one venue event (``ev.ts_recv`` is now) and act on what it changed.

        ``replan=False`` applies it without asking the planner (a batch of answers applied at
        once; ``on_timer`` plans after the batch).
        """
        self.journal.record_event(ev)
        key = (ev.venue, ev.client_order_id)
        entry = self._orders.get(key)
        if entry is None:
            self.stats.unknown_events += 1
            return
        trade, order = entry
        was_terminal = order.is_terminal
        changed = order.apply(ev)  # InvariantViolation on an impossible transition
        filled = isinstance(ev, OrderFilled) and changed
        if filled:
            assert isinstance(ev, OrderFilled)  # noqa: S101 - narrowing for mypy
            trade.fills.append(ev)
            if key not in self._ledger_has_fills:
                self.ledger.on_fill(order.inst, ev)
            cost = self._fill_cost(trade, order, ev)
            trade.rollback_cost += cost
            self.stats.rollback_loss += cost
        if not was_terminal and order.is_terminal:
            self._ended_on[(order.venue, order.symbol)] = ev.ts_recv
            self.risk.on_order_terminal()
            self.ledger.release(order.venue, order.client_order_id)
            if order.reject_reason:
                self.stats.rejects += 1
        if trade.done:
            if not filled:
                return
            trade.done = False  # a late fill re-opens a finished trade: it is real money
            self._active[trade.opp.id] = trade
        if replan:
            self._plan(trade, ev.ts_recv)

    def on_timer(self, now: int) -> None:
        """Re-plan every trade whose timer is due at ``now``."""
        for trade in list(self._active.values()):
            self._plan(trade, now)

    def on_book(self, venue: str, symbol: str, now: int) -> None:
        """A book changed: re-plan the open trades that have a leg on it and wait for a price."""
        for trade in list(self._active.values()):
            touches = any(ls.leg.venue == venue and ls.leg.symbol == symbol for ls in trade.legs)
            if touches and all(o.is_terminal for o in trade.orders()):
                self._plan(trade, now)

    # -- restart recovery --------------------------------------------------------------------

    def restore(self, trade: OpenTrade, now: int, *, ledger_has_fills: bool = True) -> None:
        """Take over a trade an earlier process left unfinished (``arb.recovery``).

        Rebuilds the trade, its legs and every order it sent from the journal: a client order
        id ``<opportunity>L<k>A<attempt>`` is the leg's own order for ``k < n`` (``n`` legs)
        and a rollback order of leg ``k - n`` otherwise (``arb.core.unwind``), restored in
        sending order so that the planner's next attempt numbers follow on. The journaled
        events are applied to the orders in the order received, then the journaled cancel
        requests to those still open (``CANCEL_PENDING``). Nothing is journaled, sent or
        planned here, and the stats count only ``restored``: the next event for the trade, or
        ``on_timer``, asks the planner, whose orders are new and journaled as usual.

        Orders not terminal hold an open-order slot at the risk gate and a reservation in the
        ledger for their unfilled rest, released at their terminal event. ``ledger_has_fills``
        (default): the ledger was built from the venues' balances after the crash, which
        already hold every fill of these orders, so neither the journaled fills nor the ones
        the venues report later for them move it (fills of orders sent from now on do).
        ``False``: the ledger predates the trade; every fill moves it.

        A trade whose orders are all terminal, with no rollback order, that the planner calls
        balanced had finished (the executor journals no rollback row for it): it is kept, so
        that a late fill re-opens it, but not active. Raises ``InvariantViolation`` for an
        order id of another scheme, an order on another venue or symbol than its leg, or a
        trade or order already known.
        """
        opp = trade.opportunity
        if opp.id in self._trades:
            raise InvariantViolation(f"opportunity {opp.id} is already traded or restored")
        legs = [_LegState(leg, self.instruments[(leg.venue, leg.symbol)]) for leg in opp.legs]
        t = _Trade(opp, legs, trade.started_ns)
        places: dict[Key, PlaceOrder] = {}
        for cmd in trade.orders:
            places[(cmd.venue, cmd.client_order_id)] = cmd
            self._restore_order(t, cmd, ledger_has_fills=ledger_has_fills)
        for ev in trade.events:
            entry = self._orders.get((ev.venue, ev.client_order_id))
            if entry is None or entry[0] is not t:
                continue
            order = entry[1]
            if order.apply(ev) and isinstance(ev, OrderFilled):
                t.fills.append(ev)
                if not ledger_has_fills:
                    self.ledger.on_fill(order.inst, ev)
                t.rollback_cost += self._fill_cost(t, order, ev)
        for c in trade.cancels:
            entry = self._orders.get((c.venue, c.client_order_id))
            if entry is not None and entry[0] is t and not entry[1].is_terminal:
                entry[1].request_cancel(c.ts)
        for key, cmd in places.items():
            order = self._orders[key][1]
            if not order.is_terminal:
                rest = msgspec.structs.replace(cmd, qty=order.remaining)
                self._reserve(rest, order.inst)
                self.risk.on_orders_sent(cmd.venue, cmd.symbol, now)
        self._trades[opp.id] = t
        self.stats.restored += 1
        if self._was_finished(t, now):
            t.done = t.settled = True
            return
        self._active[opp.id] = t

    def _restore_order(self, trade: _Trade, cmd: PlaceOrder, *, ledger_has_fills: bool) -> None:
        opp = trade.opp
        n = len(trade.legs)
        cid = cmd.client_order_id
        k = leg_number(opp.id, cid)
        if not 0 <= k < 3 * n:
            raise InvariantViolation(
                f"opportunity {opp.id}: order {cid} is neither a leg nor a rollback order of it"
            )
        ls = trade.legs[k % n]
        if (cmd.venue, cmd.symbol) != (ls.leg.venue, ls.leg.symbol):
            raise InvariantViolation(
                f"opportunity {opp.id}: order {cid} is on {cmd.venue}/{cmd.symbol}, its leg on "
                f"{ls.leg.venue}/{ls.leg.symbol}"
            )
        key = (cmd.venue, cid)
        if key in self._orders:
            raise InvariantViolation(f"client order id {cid} on {cmd.venue} restored twice")
        order = Order.from_place(cmd, ls.inst)
        self._orders[key] = (trade, order)
        if k < n:
            ls.orders.append(order)
        else:
            ls.rollbacks.append(order)
            self._rollback_keys.add(key)
        if ledger_has_fills:
            self._ledger_has_fills.add(key)

    def _was_finished(self, trade: _Trade, now: int) -> bool:
        # All orders terminal, no rollback order, balanced for the planner: finished before.
        if any(ls.rollbacks for ls in trade.legs):
            return False
        if not all(o.is_terminal for o in trade.orders()):
            return False
        self._update_marks(trade)
        p = plan(
            trade.opp.id,
            trade.opp.quote,
            [ls.fills() for ls in trade.legs],
            self._price,
            self.marks,
            self.rollback,
            now_ns=max(now, trade.start_ns),
            start_ns=trade.start_ns,
            par=self._par(trade.opp.quote),
        )
        return p.decision is Decision.DONE and p.reason == DONE_BALANCED

    # -- planning ----------------------------------------------------------------------------

    def _plan(self, trade: _Trade, now: int) -> None:
        opp = trade.opp
        self._update_marks(trade)
        p = plan(
            opp.id,
            opp.quote,
            [ls.fills() for ls in trade.legs],
            self._price,
            self.marks,
            self.rollback,
            now_ns=now,
            start_ns=trade.start_ns,
            par=self._par(opp.quote),
        )
        trade.last_plan_ns = now
        for cmd in p.commands:
            if isinstance(cmd, CancelOrder):
                self._cancel(cmd, now)
            else:
                self._send_rollback(trade, cmd, now)
        if p.decision in (Decision.HEDGE, Decision.UNWIND, Decision.ESCALATE):
            self.stats.escalations += p.decision is Decision.ESCALATE
            self._journal_rollback(trade, p, now)
        trade.unhedged = sum(abs(v) for v in p.residual.values())
        self._set_unhedged(trade)
        if p.decision is Decision.DONE:
            if p.reason != DONE_BALANCED or any(ls.rollbacks for ls in trade.legs):
                self._journal_rollback(trade, p, now)
            self._finish(trade, p, now)

    def _cancel(self, cmd: CancelOrder, now: int) -> None:
        _, order = self._orders[(cmd.venue, cmd.client_order_id)]
        cancel = order.request_cancel(now)
        self.journal.record_command(cancel)
        self.venues[cancel.venue].submit(cancel, now)

    def _send_rollback(self, trade: _Trade, cmd: PlaceOrder, now: int) -> None:
        # the leg the planner numbered (n + i: hedge/unwind, 2n + i: flatten), not the first
        # leg on the same venue and symbol
        n = len(trade.legs)
        k = leg_number(trade.opp.id, cmd.client_order_id)
        ls = trade.legs[k % n]
        if k < 2 * n and not self._rolled(trade):  # a flatten of dust is not a rollback
            self.stats.rollbacks += 1
        ls.rollbacks.append(self._track(trade, ls, cmd))
        self._rollback_keys.add((cmd.venue, cmd.client_order_id))
        self.stats.rollback_orders += 1
        self.risk.on_orders_sent(cmd.venue, cmd.symbol, now)
        self.venues[cmd.venue].submit(cmd, now)

    def _journal_rollback(self, trade: _Trade, p: Plan, now: int) -> None:
        self.journal.record_rollback(
            ts=now,
            opportunity_id=trade.opp.id,
            decision=p.decision.value.upper(),
            residual_qty=sum(p.deltas),
            residual_notional=sum(abs(v) for v in p.residual.values()),
            cost=trade.rollback_cost,
            code=p.reason,
        )

    def _set_unhedged(self, trade: _Trade) -> None:
        if trade.unhedged:
            self._unhedged[trade.opp.id] = trade.unhedged
        else:
            self._unhedged.pop(trade.opp.id, None)
        total = sum(self._unhedged.values())
        self.risk.set_unhedged(total)
        self.stats.max_unhedged = max(self.stats.max_unhedged, total)

    def _finish(self, trade: _Trade, p: Plan, now: int) -> None:
        opp = trade.opp
        trade.done = True
        self._active.pop(opp.id, None)
        rolled = self._rolled(trade)
        if not trade.settled:
            trade.settled = True
            if self.on_trade_done is not None:
                self.on_trade_done(opp, trade.fills, now)
            self._settle(trade, rolled, now)
        pnl, fees = self._trade_pnl(trade, p)
        delta = pnl - trade.reported_pnl
        trade.reported_pnl = pnl
        self._realized += delta
        self.risk.on_pnl(delta, now)
        self.journal.record_pnl(
            ts=now,
            realized=self._realized,
            fees=self.ledger.fees.get(opp.quote, 0),
            unhedged_notional=self.unhedged_notional,
        )
        self.finished.append(
            TradeRecord(
                opportunity_id=opp.id,
                kind=opp.kind,
                symbol=opp.symbol,
                ts_start=trade.start_ns,
                ts_done=now,
                expected_profit=opp.expected_profit,
                pnl=pnl,
                fees=fees,
                residual=trade.unhedged,
                rollback=rolled,
                reason=p.reason,
            )
        )

    @staticmethod
    def _rolled(trade: _Trade) -> bool:
        # a hedge or unwind (leg number < 2n) makes a rollback; a flatten of rounding dust
        # (2n + i) alone does not
        n = len(trade.legs)
        return any(
            leg_number(trade.opp.id, o.client_order_id) < 2 * n
            for ls in trade.legs
            for o in ls.rollbacks
        )

    def _settle(self, trade: _Trade, rolled: bool, now: int) -> None:
        # Once per trade: the risk gate learns how its legs did.
        self.risk.on_opportunity_done(trade.opp.id)
        st = self.stats
        for ls in trade.legs:
            filled = sum(o.filled_qty for o in ls.orders)
            for o in ls.orders:
                if o.filled_qty == o.qty:
                    st.legs_filled += 1
                elif o.filled_qty:
                    st.partial_fills += 1
                else:
                    st.legs_unfilled += 1
            if filled == ls.leg.qty:
                self.risk.on_leg_success(ls.leg.venue)
            else:
                self.risk.on_leg_failure(ls.leg.venue, now)
        if rolled:  # the cool-down is per leg book (a triangle's legs differ)
            for ls in trade.legs:
                self.risk.on_rollback(ls.leg.symbol, {ls.leg.venue}, now)

    def _trade_pnl(self, trade: _Trade, p: Plan) -> tuple[int, int]:
        # (PnL, fees) in the home currency: home cash the orders moved (a contract counts as
        # the synthetic delivery of its base for its quote notional, USD at par with a USD
        # stablecoin home), minus home fees, plus the residual of every other asset at marks.
        home = trade.opp.quote
        par = self._par(home)
        cash = 0
        fees = 0
        for o in trade.orders():
            if o.inst.quote == home or o.inst.quote in par:
                cash -= int(o.side) * o.notional
            elif o.inst.base == home:
                cash += int(o.side) * fills_base_amount(
                    o.inst, o.filled_qty, o.fill_value, round_up=False
                )
            fees += o.fees.get(home, 0)
        return cash - fees + sum(p.residual.values()), fees

    @staticmethod
    def _par(home: str) -> tuple[str, ...]:
        """Currencies valued at par with ``home``: USD for a USD stablecoin home (an inverse
        contract's notional is USD)."""
        return ("USD",) if home in USD_STABLECOINS else ()

    # -- rollback accounting -----------------------------------------------------------------

    def _fill_cost(self, trade: _Trade, order: Order, ev: OrderFilled) -> int:
        # What a rollback order's fill cost against the leg (0 for the legs' own orders).
        ls = trade.leg_of(order.venue, order.symbol)
        if not any(o is order for o in ls.rollbacks):
            return 0
        if order.side is ls.leg.side:  # hedge: against the leg's limit price
            ref_qty, ref_value = 1, ls.leg.px
        else:  # unwind: against what the leg's own orders paid or received on average
            ref_qty = sum(o.filled_qty for o in ls.orders)
            ref_value = sum(o.fill_value for o in ls.orders)
            if not ref_qty:
                ref_qty, ref_value = 1, ls.leg.px
        num = int(order.side) * (ev.px * ref_qty - ref_value) * ev.qty
        sign = 1 if num >= 0 else -1
        if ls.inst.inverse:
            # side * qty * cv * (1/ref - 1/px) in the base, ref = ref_value / ref_qty:
            # = num * cv / (px * ref_value) (ref_qty cancels), rounded against us
            amount = contract_base_amount(ls.inst, ev.px * ref_value, abs(num), round_up=sign > 0)
            cost = sign * amount
        else:
            amount = quote_notional(ls.inst, abs(num), 1, round_up=sign > 0)
            cost = sign * -(-amount // ref_qty) if sign > 0 else -(amount // ref_qty)
        home = trade.opp.quote
        # in the PnL currency (the base of an inverse; a triangle's middle leg: not home)
        cost = self._home_value(pnl_currency(ls.inst), cost, home)
        return cost + self._home_value(ev.fee_ccy, ev.fee, home)

    def _home_value(self, asset: str, amount: int, home: str) -> int:
        # ``amount`` of ``asset`` in the home currency at the marks, rounded away from zero
        # (a cost is never understated); 0 for an asset without a mark.
        if asset == home or not amount:
            return amount
        mark = self.marks.get(asset, 0)
        value = abs(amount) * mark
        rounded = -(-value // UNIT)
        return rounded if amount > 0 else -rounded

    # -- prices ------------------------------------------------------------------------------

    def _price(self, venue: str, symbol: str, side: Side, qty: int) -> int | None:
        """The worst level a taker of ``qty`` on ``side`` reaches now (``None``: no book)."""
        sync = self.books.get((venue, symbol))
        if sync is None or not sync.valid:
            return None
        walk = sync.book.walk(side, qty)
        return walk.worst_px if walk.qty else None

    def _update_marks(self, trade: _Trade) -> None:
        for ls in trade.legs:
            inst = ls.inst
            if inst.quote != trade.opp.quote:
                continue
            sync = self.books.get(inst.key)
            bid = sync.book.best_bid() if sync is not None and sync.valid else None
            ask = sync.book.best_ask() if sync is not None and sync.valid else None
            if bid is not None and ask is not None:
                self.marks[inst.base] = unit_value(inst, (bid[0] + ask[0]) // 2)
            elif inst.base not in self.marks:
                self.marks[inst.base] = unit_value(inst, ls.leg.px)

    def all_orders(self) -> list[Order]:
        """Every order sent, in sending order."""
        return [o for _, o in self._orders.values()]

    def is_rollback(self, order: Order) -> bool:
        """True for an order the rollback planner asked for (not one of the legs)."""
        return (order.venue, order.client_order_id) in self._rollback_keys

    def cancel_open(self, now: int) -> int:
        """Ask the venues to cancel every order not yet terminal (shutdown); return how many.
        Each cancel is journaled; the orders' own terminal events close them."""
        n = 0
        for _, order in list(self._orders.values()):
            if order.is_terminal or order.ts_cancel_requested is not None:
                continue
            cancel = order.request_cancel(now)
            self.journal.record_command(cancel)
            self.venues[cancel.venue].submit(cancel, now)
            n += 1
        return n

    def race_counts(self) -> dict[str, int]:
        """Real-world event orderings seen on all orders (duplicate and late fills, ...)."""
        out: dict[str, int] = {}
        for _, o in self._orders.values():
            for race, n in o.races.items():
                out[race] = out.get(race, 0) + n
        return dict(sorted(out.items()))

"""Restart recovery: finish the trades an earlier process left open, from its journal.

At start, before trading, ``arb run``:

1. ``load_open_trades(journal)``: every traded opportunity that is not finished, with the
   orders it sent (legs and rollback orders), their journaled events and cancel requests;
2. ``Executor.restore(trade, now)`` for each: the trade, its legs and orders rebuilt, nothing
   journaled or sent;
3. ``settle(executor, venues, trades, ...)``: every order not terminal is looked up on its
   venue by client order id (``Lookup.lookup``), what the venue answers is applied, and the
   rollback planner finishes the trades (its hedge, unwind or escalation orders are new
   orders, sent and journaled as usual), until no trade is active or the time is up.

(``recover`` does the three.)

When a trade is finished, read from the journal (``is_finished``): the executor journals
every order before sending it (``orders``), every event as received (``order_events``, unique
fills also in ``fills``), and at the planner's DONE a ``rollbacks`` row with decision ``DONE``
unless the legs came out balanced without any rollback order (the normal, happy trade: no
rollback row at all), then a ``pnl`` row (which names no opportunity, so it cannot be used).
A traded opportunity (decision ``TRADE``) is finished when

- every order it sent is terminal in the journal: an ``OrderRejected`` or ``OrderCanceled``,
  or unique fills that add up to its size (a late fill after a cancel is still counted), and
- either it sent no rollback order and every leg filled the same fraction of its size
  (exactly: ``filled_i * qty_j == filled_j * qty_i``; all zero counts), or its last rollback
  row (in journal order) is ``DONE`` and no unique fill was received after it (``ts_recv``
  later than the row's ``ts``: a new fill re-opens a finished trade, other late events do not).

A trade balanced only after rounding to the lot (legs of different sizes) looks open here;
``Executor.restore`` asks the planner and keeps it as finished (inactive) without journaling.

Opportunity ids (``SpatialDetector``: ``<prefix><ms>N<counter>``) carry the detector's clock
in ms, so a restarted process whose clock is past the previous run's last decision never
reuses an id, nor a client order id; a journal may hold several runs (``begin_run`` at each
start) and is read as one.

Paper mode (``SimVenue``): its orders and balances live in the process, so there is nothing to
ask after a restart and it has no ``lookup``. A paper journal's open trades are not settled
against venues; the runner reports them as abandoned and does not restore them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from fractions import Fraction
from typing import Protocol
from typing import TypeVar

import msgspec

from arb.core.errors import InvariantViolation
from arb.core.messages import CancelOrder
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import PlaceOrder
from arb.core.opportunity import Opportunity
from arb.core.orders import Order
from arb.executor import Executor
from arb.executor import leg_number
from arb.journal.reader import JournalReader
from arb.journal.reader import Rollback
from arb.journal.schema import JournalError
from arb.ports import ExecutionVenue

__all__ = [
    "NOT_FOUND",
    "NOT_PLACED",
    "Lookup",
    "OpenTrade",
    "SettleReport",
    "is_finished",
    "load_open_trades",
    "recover",
    "settle",
]

NS_PER_S = 1_000_000_000
NOT_PLACED = "NOT_PLACED"
"""``OrderRejected.reason`` of a lookup: the venue has no order with that client order id."""
NOT_FOUND = "NOT_FOUND"
"""``OrderCanceled.reason`` when a venue no longer knows an order it had acknowledged (OKX
keeps a cancelled order without fills for 2 hours only): nothing more will fill."""

Key = tuple[str, str]


class OpenTrade(msgspec.Struct, frozen=True, kw_only=True):
    """A traded opportunity the journal does not show finished (see the module docstring)."""

    opportunity: Opportunity
    orders: list[PlaceOrder]
    """Every order sent for it, legs and rollback orders, in sending order."""
    cancels: list[CancelOrder]
    """Cancel requests sent for those orders, in sending order."""
    events: list[OrderEvent]
    """Every event journaled for those orders, duplicates included, in the order received."""
    started_ns: int
    """When it was traded (the ``TRADE`` decision): the start of its rollback time budget."""


class Lookup(ExecutionVenue, Protocol):
    """An execution venue that can say what became of an order sent by an earlier process."""

    async def lookup(self, cmd: PlaceOrder) -> list[OrderEvent]:
        """Ask the venue for the order of ``cmd`` by its client order id.

        Returns what the venue knows as events, ``ts_recv`` = now: ``OrderAccepted``, one
        ``OrderFilled`` per fill (its venue trade id), then ``OrderCanceled`` if it ended
        short of its size (a filled order ends with its last fill); or
        ``[OrderRejected(reason=NOT_PLACED)]`` when the venue has no such order. Events
        already handed out may come again (the caller drops what it knows). Raises the
        venue's error (``arb.core.errors.VenueError``, transport errors) when it cannot
        answer now; the caller asks again later.
        """
        ...


class SettleReport(msgspec.Struct, frozen=True, kw_only=True):
    """What ``settle`` did; money at AMOUNT_PRECISION in the home currency."""

    restored: int
    """Trades given to ``settle`` that were active when it began."""
    looked_up: int
    """Lookups the venues answered."""
    lookup_errors: dict[str, int]
    """Lookups that failed (asked again next round), by exception type."""
    events_applied: int
    """Events of the answers that were new, applied through ``Executor.on_event`` (journaled)."""
    events_known: int
    """Events of the answers the executor already had (journaled before the restart, or a
    previous answer): dropped, not journaled again."""
    finished: int
    """Of the ``restored`` trades, those finished when ``settle`` returned."""
    still_open: list[str]
    """Opportunity ids of the trades still active when ``settle`` returned (timeout)."""
    unhedged: int
    """The executor's unhedged notional across venues at the end."""


# -- the journal ---------------------------------------------------------------------------------


def load_open_trades(reader: JournalReader) -> list[OpenTrade]:
    """Every traded opportunity of ``reader`` that is not finished, in decision order.

    Raises ``JournalError`` for a ``TRADE`` decision whose opportunity is not journaled.
    """
    started: dict[str, int] = {}
    for d in reader.decisions():
        if d.decision == "TRADE":
            started.setdefault(d.opportunity_id, d.ts)
    if not started:
        return []
    orders: dict[str, list[PlaceOrder]] = {}
    owner: dict[Key, str] = {}
    for cmd in reader.orders():
        if cmd.opportunity_id in started:
            orders.setdefault(cmd.opportunity_id, []).append(cmd)
            owner[(cmd.venue, cmd.client_order_id)] = cmd.opportunity_id
    events = _by_trade(reader.order_events(), owner)
    cancels = _by_trade(reader.cancels(), owner)
    last_rollback: dict[str, Rollback] = {r.opportunity_id: r for r in reader.rollbacks()}
    out: list[OpenTrade] = []
    for oid, ts in started.items():
        opp = reader.opportunity(oid)
        if opp is None:
            raise JournalError(f"{reader.path}: opportunity {oid} was traded but not journaled")
        trade = OpenTrade(
            opportunity=opp,
            orders=orders.get(oid, []),
            cancels=cancels.get(oid, []),
            events=events.get(oid, []),
            started_ns=ts,
        )
        if not is_finished(trade, last_rollback.get(oid)):
            out.append(trade)
    return out


_Item = TypeVar("_Item", OrderEvent, CancelOrder)


def _by_trade(items: Iterable[_Item], owner: Mapping[Key, str]) -> dict[str, list[_Item]]:
    out: dict[str, list[_Item]] = {}
    for x in items:
        oid = owner.get((x.venue, x.client_order_id))
        if oid is not None:
            out.setdefault(oid, []).append(x)
    return out


def is_finished(trade: OpenTrade, last_rollback: Rollback | None) -> bool:
    """Whether the journal shows ``trade`` finished (the rule of the module docstring);
    ``last_rollback`` is its last ``rollbacks`` row, if any."""
    fills: dict[Key, int] = {}
    ended: set[Key] = set()
    seen: set[Key] = set()
    last_fill = None
    for ev in trade.events:
        key = (ev.venue, ev.client_order_id)
        if isinstance(ev, OrderFilled):
            if (ev.venue, ev.trade_id) in seen:
                continue
            seen.add((ev.venue, ev.trade_id))
            fills[key] = fills.get(key, 0) + ev.qty
            last_fill = ev.ts_recv if last_fill is None else max(last_fill, ev.ts_recv)
        elif isinstance(ev, OrderRejected | OrderCanceled):
            ended.add(key)
    for cmd in trade.orders:
        key = (cmd.venue, cmd.client_order_id)
        if key not in ended and fills.get(key, 0) < cmd.qty:
            return False
    if (
        last_rollback is not None
        and last_rollback.decision == "DONE"
        and (last_fill is None or last_fill <= last_rollback.ts)
    ):
        return True
    legs = trade.opportunity.legs
    n = len(legs)
    leg_fills = [0] * n
    for cmd in trade.orders:
        i = leg_number(trade.opportunity.id, cmd.client_order_id)
        if not 0 <= i < n:
            return False  # a rollback order and no DONE after the last fill
        leg_fills[i] += fills.get((cmd.venue, cmd.client_order_id), 0)
    fractions = {Fraction(f, leg.qty) for f, leg in zip(leg_fills, legs, strict=True)}
    return len(fractions) <= 1


# -- the venues ----------------------------------------------------------------------------------


def _place_of(order: Order) -> PlaceOrder:
    return PlaceOrder(
        venue=order.venue,
        symbol=order.symbol,
        client_order_id=order.client_order_id,
        side=order.side,
        order_type=order.order_type,
        px=order.px,
        qty=order.qty,
        ts=order.ts_sent,
    )


def _known(order: Order, ev: OrderEvent) -> bool:
    # Whether an answer's event is something the order already has.
    if isinstance(ev, OrderFilled):
        return ev.trade_id in order.trade_ids
    if isinstance(ev, OrderAccepted):
        return order.ts_acked is not None and ev.venue_order_id == order.venue_order_id
    return order.is_terminal


def _translate(order: Order, ev: OrderEvent) -> OrderEvent:
    # "No such order" about an order the venue acknowledged or filled: the venue forgot it
    # (OKX drops cancelled orders without fills after 2 hours); it will not fill any more.
    if (
        isinstance(ev, OrderRejected)
        and ev.reason == NOT_PLACED
        and (order.ts_acked is not None or order.filled_qty)
    ):
        return OrderCanceled(
            venue=ev.venue,
            client_order_id=ev.client_order_id,
            reason=NOT_FOUND,
            ts_event=ev.ts_event,
            ts_recv=ev.ts_recv,
        )
    return ev


class _Tally:
    __slots__ = ("applied", "errors", "known", "looked_up")

    def __init__(self) -> None:
        self.looked_up = 0
        self.applied = 0
        self.known = 0
        self.errors: dict[str, int] = {}


def _targets(executor: Executor, trade_ids: Iterable[str], restored: set[Key]) -> list[Order]:
    # Orders to ask about: not terminal, and either sent by the earlier process or answered
    # by the venue since (an order of ours still being placed could be "not found" yet).
    active = set(executor.active_ids)
    out: list[Order] = []
    for oid in trade_ids:
        if oid not in active:
            continue
        for o in executor.trade_orders(oid):
            key = (o.venue, o.client_order_id)
            if not o.is_terminal and (
                key in restored or o.ts_acked is not None or o.filled_qty > 0
            ):
                out.append(o)
    return out


async def _ask(
    executor: Executor, venues: Mapping[str, Lookup], orders: Sequence[Order], tally: _Tally
) -> None:
    # Look every order up, then apply the new answers without planning (one plan afterwards).
    answers: list[tuple[Order, list[OrderEvent]]] = []
    for o in orders:
        venue = venues.get(o.venue)
        if venue is None:  # a venue that cannot be asked (paper): nothing will settle it
            tally.errors["NoLookup"] = tally.errors.get("NoLookup", 0) + 1
            continue
        try:
            events = await venue.lookup(_place_of(o))
        except (asyncio.CancelledError, InvariantViolation):
            raise
        except Exception as e:  # the venue cannot answer now: ask again next round
            name = type(e).__name__
            tally.errors[name] = tally.errors.get(name, 0) + 1
            continue
        tally.looked_up += 1
        answers.append((o, events))
    for o, events in answers:
        for raw in events:
            if (raw.venue, raw.client_order_id) != (o.venue, o.client_order_id):
                raise InvariantViolation(
                    f"lookup of {o.client_order_id} on {o.venue} answered for "
                    f"{raw.client_order_id} on {raw.venue}"
                )
            ev = _translate(o, raw)
            if _known(o, ev):
                tally.known += 1
                continue
            executor.on_event(ev, replan=False)
            tally.applied += 1


async def settle(
    executor: Executor,
    venues: Mapping[str, Lookup],
    trades: Sequence[OpenTrade],
    *,
    now_ns: Callable[[], int],
    timeout_s: float,
    poll_s: float = 0.2,
) -> SettleReport:
    """Finish the restored ``trades`` (``Executor.restore`` done) against the venues.

    Each round: the events the venues deliver on their own (``advance``: the planner's new
    orders, pushes) go to ``executor.on_event``; every order of an active restored trade that
    is not terminal is looked up (the orders sent by the earlier process, and the planner's
    new ones once the venue has answered them), the answers' new events are applied and the
    already known ones dropped (journaled once), and an ``on_timer`` lets the planner decide.
    Rounds repeat every ``poll_s`` until no trade is active or ``timeout_s`` has passed on
    ``now_ns``. The caller may drive ``advance`` and the timers meanwhile on the same event
    loop (each event is handed out once; answers are checked against the orders when they are
    applied). An order on a venue missing from ``venues`` is never looked up (counted as
    ``NoLookup`` in ``lookup_errors``): its trade stays open unless the venues' own events end
    it.
    """
    ids = [t.opportunity.id for t in trades]
    start = now_ns()
    deadline = start + round(timeout_s * NS_PER_S)
    active_at_start = set(executor.active_ids) & set(ids)
    restored = {(c.venue, c.client_order_id) for t in trades for c in t.orders}
    tally = _Tally()
    while True:
        now = now_ns()
        for v in sorted(venues):
            for ev in venues[v].advance(now):
                executor.on_event(ev)
        await _ask(executor, venues, _targets(executor, ids, restored), tally)
        now = max(now, now_ns())
        executor.on_timer(now)
        if executor.active == 0 or now >= deadline:
            break
        await asyncio.sleep(poll_s)
    still = [i for i in executor.active_ids if i in active_at_start]
    return SettleReport(
        restored=len(active_at_start),
        looked_up=tally.looked_up,
        lookup_errors=dict(sorted(tally.errors.items())),
        events_applied=tally.applied,
        events_known=tally.known,
        finished=len(active_at_start) - len(still),
        still_open=still,
        unhedged=executor.unhedged_notional,
    )


async def recover(
    reader: JournalReader,
    executor: Executor,
    venues: Mapping[str, Lookup],
    *,
    now_ns: Callable[[], int],
    timeout_s: float,
    poll_s: float = 0.2,
) -> SettleReport:
    """``load_open_trades``, ``Executor.restore`` of each, then ``settle``."""
    trades = load_open_trades(reader)
    now = now_ns()
    for t in trades:
        executor.restore(t, now)
    return await settle(executor, venues, trades, now_ns=now_ns, timeout_s=timeout_s, poll_s=poll_s)

"""Order state machine: one ``Order`` per client order id, driven by venue events.

Pure: time comes in with the events (``ts_recv``) and with ``request_cancel(ts)``. The
executor owns the ``Order`` objects; it feeds every ``OrderEvent`` of an order to
``Order.apply`` and asks ``Order.request_cancel`` for a ``CancelOrder``.

Allowed moves are the table ``TRANSITIONS[(state, trigger)] -> next state``. A pair that is
not in the table is a bug (ours or the venue's) and raises ``InvariantViolation`` naming the
order, the state and the trigger. The venue triggers are derived from the events: ``accepted``
(``OrderAccepted``), ``rejected`` (``OrderRejected``), ``fill`` / ``fill_complete``
(``OrderFilled`` leaving some / none of the quantity open), ``canceled`` (``OrderCanceled``);
``cancel_requested`` is ours.

Real venues race, and these are in the table, counted per order in ``Order.races`` (see
``Race``) and never a crash:

- ``fill_before_ack``: a fill (or the whole fill) arrives before the ack;
- ``canceled_before_ack``: an IOC's cancel arrives before its ack;
- ``late_ack``: the ack arrives after fills or after the terminal event;
- ``late_fill``: a fill arrives after the order was cancelled. It is real money: it is applied
  (a late fill that completes the order makes it ``FILLED``);
- ``cancel_after_fill``: a cancel confirmation for an order already filled (ignored);
- ``duplicate_ack`` / ``duplicate_reject`` / ``duplicate_cancel``: a repeated answer (a venue
  answers a re-sent ``PlaceOrder`` with the existing order); ignored;
- ``duplicate_fill``: a fill whose ``trade_id`` the order already has. Fills are deduplicated
  by ``(venue, trade_id)``; an order lives on one venue, so its ``trade_ids`` set is that key.
  Checked before the table: a duplicate is ignored in any state.

A fill that would take ``filled_qty`` past ``qty`` (over-fill), a fill of the other side, or an
event for another order raises ``InvariantViolation``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import assert_never

import msgspec

from arb.core.contracts import quote_notional
from arb.core.errors import InvariantViolation
from arb.core.instruments import Instrument
from arb.core.messages import CancelOrder
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.types import Side

__all__ = [
    "RACES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "Order",
    "OrderState",
    "Race",
    "Trigger",
]


class OrderState(enum.StrEnum):
    PENDING_NEW = "pending_new"
    """Sent, no answer from the venue yet."""
    ACCEPTED = "accepted"
    """Acknowledged by the venue, nothing filled."""
    PARTIALLY_FILLED = "partially_filled"
    """Some quantity filled, the rest still open."""
    FILLED = "filled"
    """The whole quantity filled (terminal)."""
    CANCEL_PENDING = "cancel_pending"
    """We asked to cancel; no confirmation yet (fills may still arrive)."""
    CANCELED = "canceled"
    """Cancelled, by us or by the venue (IOC remainder); may hold a partial fill (terminal)."""
    REJECTED = "rejected"
    """Refused by the venue; never traded (terminal)."""


class Trigger(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FILL = "fill"
    """A fill that leaves some quantity open."""
    FILL_COMPLETE = "fill_complete"
    """A fill that brings ``filled_qty`` to ``qty``."""
    CANCEL_REQUESTED = "cancel_requested"
    CANCELED = "canceled"


class Race(enum.StrEnum):
    """Real-world orderings that are handled and counted, not crashes."""

    FILL_BEFORE_ACK = "fill_before_ack"
    CANCELED_BEFORE_ACK = "canceled_before_ack"
    LATE_ACK = "late_ack"
    LATE_FILL = "late_fill"
    CANCEL_AFTER_FILL = "cancel_after_fill"
    DUPLICATE_ACK = "duplicate_ack"
    DUPLICATE_REJECT = "duplicate_reject"
    DUPLICATE_CANCEL = "duplicate_cancel"
    DUPLICATE_FILL = "duplicate_fill"


_S = OrderState
_T = Trigger

TERMINAL_STATES: frozenset[OrderState] = frozenset({_S.FILLED, _S.CANCELED, _S.REJECTED})

TRANSITIONS: Mapping[tuple[OrderState, Trigger], OrderState] = {
    # sent, no ack
    (_S.PENDING_NEW, _T.ACCEPTED): _S.ACCEPTED,
    (_S.PENDING_NEW, _T.REJECTED): _S.REJECTED,
    (_S.PENDING_NEW, _T.FILL): _S.PARTIALLY_FILLED,  # race: fill_before_ack
    (_S.PENDING_NEW, _T.FILL_COMPLETE): _S.FILLED,  # race: fill_before_ack
    (_S.PENDING_NEW, _T.CANCEL_REQUESTED): _S.CANCEL_PENDING,
    (_S.PENDING_NEW, _T.CANCELED): _S.CANCELED,  # race: canceled_before_ack
    # acknowledged
    (_S.ACCEPTED, _T.ACCEPTED): _S.ACCEPTED,  # race: duplicate_ack
    (_S.ACCEPTED, _T.FILL): _S.PARTIALLY_FILLED,
    (_S.ACCEPTED, _T.FILL_COMPLETE): _S.FILLED,
    (_S.ACCEPTED, _T.CANCEL_REQUESTED): _S.CANCEL_PENDING,
    (_S.ACCEPTED, _T.CANCELED): _S.CANCELED,
    # partly filled
    (_S.PARTIALLY_FILLED, _T.ACCEPTED): _S.PARTIALLY_FILLED,  # race: late_ack
    (_S.PARTIALLY_FILLED, _T.FILL): _S.PARTIALLY_FILLED,
    (_S.PARTIALLY_FILLED, _T.FILL_COMPLETE): _S.FILLED,
    (_S.PARTIALLY_FILLED, _T.CANCEL_REQUESTED): _S.CANCEL_PENDING,
    (_S.PARTIALLY_FILLED, _T.CANCELED): _S.CANCELED,
    # cancel asked, not confirmed
    (_S.CANCEL_PENDING, _T.ACCEPTED): _S.CANCEL_PENDING,
    (_S.CANCEL_PENDING, _T.REJECTED): _S.REJECTED,
    (_S.CANCEL_PENDING, _T.FILL): _S.CANCEL_PENDING,
    (_S.CANCEL_PENDING, _T.FILL_COMPLETE): _S.FILLED,
    (_S.CANCEL_PENDING, _T.CANCEL_REQUESTED): _S.CANCEL_PENDING,  # re-sent cancel
    (_S.CANCEL_PENDING, _T.CANCELED): _S.CANCELED,
    # terminal
    (_S.FILLED, _T.ACCEPTED): _S.FILLED,  # race: late_ack
    (_S.FILLED, _T.CANCELED): _S.FILLED,  # race: cancel_after_fill
    (_S.CANCELED, _T.ACCEPTED): _S.CANCELED,  # race: late_ack
    (_S.CANCELED, _T.FILL): _S.CANCELED,  # race: late_fill
    (_S.CANCELED, _T.FILL_COMPLETE): _S.FILLED,  # race: late_fill
    (_S.CANCELED, _T.CANCELED): _S.CANCELED,  # race: duplicate_cancel
    (_S.REJECTED, _T.REJECTED): _S.REJECTED,  # race: duplicate_reject
}
"""Every allowed ``(state, trigger)``; anything else raises ``InvariantViolation``."""

RACES: Mapping[tuple[OrderState, Trigger], Race] = {
    (_S.PENDING_NEW, _T.FILL): Race.FILL_BEFORE_ACK,
    (_S.PENDING_NEW, _T.FILL_COMPLETE): Race.FILL_BEFORE_ACK,
    (_S.PENDING_NEW, _T.CANCELED): Race.CANCELED_BEFORE_ACK,
    (_S.ACCEPTED, _T.ACCEPTED): Race.DUPLICATE_ACK,
    (_S.PARTIALLY_FILLED, _T.ACCEPTED): Race.LATE_ACK,
    (_S.FILLED, _T.ACCEPTED): Race.LATE_ACK,
    (_S.FILLED, _T.CANCELED): Race.CANCEL_AFTER_FILL,
    (_S.CANCELED, _T.ACCEPTED): Race.LATE_ACK,
    (_S.CANCELED, _T.FILL): Race.LATE_FILL,
    (_S.CANCELED, _T.FILL_COMPLETE): Race.LATE_FILL,
    (_S.CANCELED, _T.CANCELED): Race.DUPLICATE_CANCEL,
    (_S.REJECTED, _T.REJECTED): Race.DUPLICATE_REJECT,
}
"""The entries of ``TRANSITIONS`` that are venue races, with the name they are counted under.

An ack of an order that already has one is counted as ``duplicate_ack`` in any state.
"""

# Races whose event changes nothing: ``apply`` returns False for them.
_IGNORED = frozenset(
    {Race.CANCEL_AFTER_FILL, Race.DUPLICATE_ACK, Race.DUPLICATE_REJECT, Race.DUPLICATE_CANCEL}
)


class Order(msgspec.Struct, kw_only=True):
    """One order of ours on one venue, from sending to its terminal event.

    Mutable and owned by the executor. Quantities and prices are raw at ``inst``'s precisions;
    ``notional`` and ``fees`` are at AMOUNT_PRECISION (``notional`` in the quote currency, also
    for inverse contracts: ``contracts * contract value``; ``fees`` per fee currency, negative
    for a rebate). Timestamps are engine time in ns (the events' ``ts_recv``); ``None`` until
    it happened.
    """

    client_order_id: str
    venue: str
    symbol: str
    side: Side
    order_type: OrderType
    px: int
    """Limit price (0 for market orders)."""
    qty: int
    inst: Instrument
    ts_sent: int
    state: OrderState = OrderState.PENDING_NEW
    filled_qty: int = 0
    fill_value: int = 0
    """Sum of ``px * qty`` over the fills (raw, at the price + size precisions, exact): the
    numerator of ``avg_px``. Of a spot or linear order it is the quote notional before
    scaling (``notional`` is it at AMOUNT_PRECISION); of an inverse contract it is no amount
    of anything (its quote notional does not depend on the price, its base amount
    ``sum(qty * cv / px)`` needs each fill's price: ``contracts.fills_base_amount`` bounds it
    from this sum)."""
    notional: int = 0
    """Quote amount of the fills at AMOUNT_PRECISION (``contracts.quote_notional``), rounded
    once, never in our favour (up for a buy): ``fill_value * cv`` for spot and linear
    contracts, ``filled_qty * cv`` (the contracts' face value, whatever the prices) for
    inverse contracts."""
    fees: dict[str, int] = msgspec.field(default_factory=dict)
    trade_ids: set[str] = msgspec.field(default_factory=set)
    venue_order_id: str = ""
    reject_reason: str = ""
    cancel_reason: str = ""
    ts_acked: int | None = None
    ts_cancel_requested: int | None = None
    ts_terminal: int | None = None
    races: dict[str, int] = msgspec.field(default_factory=dict)
    """Count of each ``Race`` seen on this order."""

    @classmethod
    def from_place(cls, cmd: PlaceOrder, inst: Instrument) -> Order:
        """Start tracking an order when its ``PlaceOrder`` is sent (state ``PENDING_NEW``)."""
        if (cmd.venue, cmd.symbol) != (inst.venue, inst.symbol):
            raise InvariantViolation(
                f"order {cmd.client_order_id}: {cmd.venue}/{cmd.symbol} sent with instrument "
                f"{inst.venue}/{inst.symbol}"
            )
        if cmd.qty <= 0:
            raise InvariantViolation(f"order {cmd.client_order_id}: qty {cmd.qty} is not positive")
        return cls(
            client_order_id=cmd.client_order_id,
            venue=cmd.venue,
            symbol=cmd.symbol,
            side=cmd.side,
            order_type=cmd.order_type,
            px=cmd.px,
            qty=cmd.qty,
            inst=inst,
            ts_sent=cmd.ts,
        )

    # -- views ---------------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        """Quantity not filled yet (still open only while the order is not terminal)."""
        return self.qty - self.filled_qty

    @property
    def is_terminal(self) -> bool:
        """FILLED, CANCELED or REJECTED: no more fills expected (a late fill is still applied)."""
        return self.state in TERMINAL_STATES

    @property
    def avg_px(self) -> int | None:
        """Volume-weighted average fill price (raw, rounded half up); ``None`` before a fill."""
        if not self.filled_qty:
            return None
        return (2 * self.fill_value + self.filled_qty) // (2 * self.filled_qty)

    # -- transitions ---------------------------------------------------------------------

    def apply(self, event: OrderEvent) -> bool:
        """Apply one venue event. Return False when it was ignored (a duplicate or stale one).

        Raises ``InvariantViolation`` for an event of another order, a transition not in
        ``TRANSITIONS``, a fill of the other side, a non-positive fill, or an over-fill.
        """
        if event.venue != self.venue or event.client_order_id != self.client_order_id:
            raise InvariantViolation(
                f"order {self.client_order_id} on {self.venue}: received an event for "
                f"{event.client_order_id} on {event.venue}"
            )
        if isinstance(event, OrderFilled):
            return self._on_fill(event)
        if isinstance(event, OrderAccepted):
            return self._on_ack(event)
        if isinstance(event, OrderRejected):
            return self._on_terminal(Trigger.REJECTED, event.ts_recv, reason=event.reason)
        if isinstance(event, OrderCanceled):
            return self._on_terminal(Trigger.CANCELED, event.ts_recv, reason=event.reason)
        assert_never(event)  # pragma: no cover

    def request_cancel(self, ts: int) -> CancelOrder:
        """Move to CANCEL_PENDING and return the ``CancelOrder`` to send.

        Raises ``InvariantViolation`` on a terminal order (there is nothing to cancel).
        """
        self.state = self._next(Trigger.CANCEL_REQUESTED)
        self.ts_cancel_requested = ts
        return CancelOrder(
            venue=self.venue, symbol=self.symbol, client_order_id=self.client_order_id, ts=ts
        )

    def _next(self, trigger: Trigger) -> OrderState:
        nxt = TRANSITIONS.get((self.state, trigger))
        if nxt is None:
            raise InvariantViolation(
                f"order {self.client_order_id} on {self.venue}: no transition from state "
                f"{self.state} on trigger {trigger}"
            )
        return nxt

    def _count(self, race: Race) -> None:
        self.races[race] = self.races.get(race, 0) + 1

    def _move(self, trigger: Trigger, nxt: OrderState, ts: int) -> None:
        race = RACES.get((self.state, trigger))
        if race is not None:
            self._count(race)
        self.state = nxt
        if self.ts_terminal is None and nxt in TERMINAL_STATES:
            self.ts_terminal = ts

    def _on_fill(self, e: OrderFilled) -> bool:
        if e.trade_id in self.trade_ids:
            self._count(Race.DUPLICATE_FILL)
            return False
        cid = self.client_order_id
        if e.side is not self.side:
            raise InvariantViolation(
                f"order {cid} ({self.side.name}) received a {e.side.name} fill"
            )
        if e.qty <= 0:
            raise InvariantViolation(f"order {cid} received a fill of qty {e.qty}")
        filled = self.filled_qty + e.qty
        if filled > self.qty:
            raise InvariantViolation(
                f"order {cid} on {self.venue}: over-fill in state {self.state}, fill "
                f"{e.trade_id} of {e.qty} brings filled_qty to {filled} > qty {self.qty}"
            )
        trigger = Trigger.FILL_COMPLETE if filled == self.qty else Trigger.FILL
        self._move(trigger, self._next(trigger), e.ts_recv)
        self.trade_ids.add(e.trade_id)
        self.filled_qty = filled
        self.fill_value += e.px * e.qty
        buy = self.side is Side.BUY
        if self.inst.inverse:  # qty * cv: the price plays no part
            self.notional = quote_notional(self.inst, 0, filled, round_up=buy)
        else:
            # quote_notional multiplies its two raw arguments, so the exact sum of px*qty is
            # rounded once here (at the instrument's price+size scale), not once per fill.
            self.notional = quote_notional(self.inst, self.fill_value, 1, round_up=buy)
        self.fees[e.fee_ccy] = self.fees.get(e.fee_ccy, 0) + e.fee
        return True

    def _on_ack(self, e: OrderAccepted) -> bool:
        nxt = self._next(Trigger.ACCEPTED)
        if self.ts_acked is not None:
            if e.venue_order_id != self.venue_order_id:
                raise InvariantViolation(
                    f"order {self.client_order_id} on {self.venue}: acked as "
                    f"{self.venue_order_id}, then as {e.venue_order_id}"
                )
            self._count(Race.DUPLICATE_ACK)
            return False
        self._move(Trigger.ACCEPTED, nxt, e.ts_recv)
        self.venue_order_id = e.venue_order_id
        self.ts_acked = e.ts_recv
        return True

    def _on_terminal(self, trigger: Trigger, ts: int, *, reason: str) -> bool:
        nxt = self._next(trigger)
        race = RACES.get((self.state, trigger))
        self._move(trigger, nxt, ts)
        if race in _IGNORED:
            return False
        if trigger is Trigger.REJECTED:
            self.reject_reason = reason
        else:
            self.cancel_reason = reason
        return True

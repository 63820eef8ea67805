"""Execution commands (engine -> venue) and order events (venue -> engine): frozen facts.

Prices and sizes are raw integers at the instrument's precisions; money amounts (fees) are at
``arb.core.money.AMOUNT_PRECISION`` in ``fee_ccy``; times are integer nanoseconds. Every message
is tagged so that journals and recordings decode in one pass (``Decoder(Command | OrderEvent)``).

Client order ids are deterministic (``arb.core.messages.client_order_id``): a retry of the same
command carries the same id, and a venue that already has it answers with the existing order,
so a retry never doubles an order.
"""

from __future__ import annotations

import enum

import msgspec

from arb.core.types import Side

__all__ = [
    "CancelOrder",
    "Command",
    "OrderAccepted",
    "OrderCanceled",
    "OrderEvent",
    "OrderFilled",
    "OrderRejected",
    "OrderType",
    "PlaceOrder",
    "client_order_id",
]


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    """Rests on the book until filled or cancelled."""
    IOC = "ioc"
    """Immediate-or-cancel: takes what is there up to the limit price, the rest is cancelled."""
    FOK = "fok"
    """Fill-or-kill: all of it at once up to the limit price, or nothing."""
    MARKET = "market"
    """Takes liquidity at any price (only as the last escalation of a rollback)."""


class PlaceOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    venue: str
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    px: int
    """Limit price (raw); 0 for market orders."""
    qty: int
    ts: int
    """When the engine decided to send it (virtual or live clock)."""
    opportunity_id: str = ""


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    venue: str
    symbol: str
    client_order_id: str
    ts: int


Command = PlaceOrder | CancelOrder


class OrderAccepted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    venue: str
    client_order_id: str
    venue_order_id: str
    ts_event: int
    ts_recv: int


class OrderRejected(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    venue: str
    client_order_id: str
    reason: str
    """A code, e.g. ``INSUFFICIENT_BALANCE``, ``BELOW_MIN_SIZE``, ``OFF_TICK``, ``OFF_LOT``."""
    ts_event: int
    ts_recv: int


class OrderFilled(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    venue: str
    client_order_id: str
    trade_id: str
    """Venue trade id: the dedup key for duplicated or replayed fills."""
    side: Side
    px: int
    qty: int
    fee: int
    """Fee charged (negative = rebate) at AMOUNT_PRECISION, in ``fee_ccy``."""
    fee_ccy: str
    liquidity: str
    """``"taker"`` or ``"maker"``."""
    ts_event: int
    ts_recv: int


class OrderCanceled(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    venue: str
    client_order_id: str
    reason: str
    """``IOC_REMAINDER``, ``FOK_NOT_FILLABLE``, ``REQUESTED``, ..."""
    ts_event: int
    ts_recv: int


OrderEvent = OrderAccepted | OrderRejected | OrderFilled | OrderCanceled


def client_order_id(opportunity_id: str, leg: int, attempt: int = 0) -> str:
    """Deterministic client order id: alphanumeric, <= 32 chars (OKX's ``clOrdId`` rule).

    ``opportunity_id`` must be alphanumeric; ``leg`` numbers the order within the opportunity
    (rollback orders use their own leg numbers) and ``attempt`` a deliberate re-send.
    """
    cid = f"{opportunity_id}L{leg}A{attempt}"
    if not cid.isalnum() or len(cid) > 32:
        raise ValueError(f"client order id {cid!r} must be alphanumeric and at most 32 chars")
    return cid

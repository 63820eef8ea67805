"""What the detector found: an ``Opportunity`` with its legs and the inputs used to price it."""

from __future__ import annotations

import msgspec

from arb.core.types import Side

__all__ = ["Leg", "Opportunity"]


class Leg(msgspec.Struct, frozen=True, kw_only=True):
    """One order to send: the limit price is the worst price the depth walk touched."""

    venue: str
    symbol: str
    side: Side
    px: int
    """Limit price, raw at the instrument's price precision."""
    qty: int
    """Size, raw at the instrument's size precision."""
    expected_notional: int
    """Depth-walk notional at AMOUNT_PRECISION (what we expect to pay or receive)."""
    fee: int
    """Expected taker fee at AMOUNT_PRECISION."""


class Opportunity(msgspec.Struct, frozen=True, kw_only=True):
    """A priced arbitrage. Money at AMOUNT_PRECISION in ``quote``; times in ns.

    ``id`` is deterministic and alphanumeric (it seeds client order ids). ``inputs`` keeps what
    the decision was made from (book ages, fees, haircut, volatility, depth) for the journal.
    """

    id: str
    kind: str
    """``"spatial"`` (cross-venue spot); later ``"basis"`` and ``"triangular"``."""
    ts: int
    symbol: str
    quote: str
    legs: tuple[Leg, ...]
    gross_profit: int
    fees: int
    latency_haircut: int
    expected_profit: int
    """gross - fees - haircut."""
    expected_profit_bps: float
    inputs: dict[str, int | float | str] = {}

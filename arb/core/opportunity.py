"""What the detector found: an ``Opportunity`` with its legs and the inputs used to price it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol
from typing import TypeVar

import msgspec

from arb.core.errors import InvariantViolation
from arb.core.types import Side

__all__ = [
    "MAX_ID_LEN",
    "Leg",
    "Opportunity",
    "Refused",
    "most_profitable",
    "opportunity_id",
]

NS_PER_MS = 1_000_000
MAX_ID_LEN = 24
"""Client order ids append ``L<leg>A<attempt>`` and must stay within OKX's 32 characters."""

Refused = tuple[str, str]
"""A detector's refusal: ``(code, detail)``."""


class _Profitable(Protocol):
    @property
    def profit(self) -> int: ...


P = TypeVar("P", bound=_Profitable)


def opportunity_id(prefix: str, now_ns: int, counter: int) -> str:
    """``<prefix><ms>N<counter>``: deterministic, alphanumeric, unique across restarts while the
    clock moves forward. Raises ``InvariantViolation`` past ``MAX_ID_LEN``."""
    oid = f"{prefix}{now_ns // NS_PER_MS}N{counter}"
    if len(oid) > MAX_ID_LEN:
        raise InvariantViolation(f"opportunity id {oid!r} is longer than {MAX_ID_LEN}")
    return oid


def most_profitable(outcomes: Iterable[P | Refused]) -> tuple[P | None, Refused | None]:
    """The most profitable priced outcome (the first of equals) and the first refusal."""
    best: P | None = None
    refusal: Refused | None = None
    for out in outcomes:
        if isinstance(out, tuple):
            if refusal is None:
                refusal = out
        elif best is None or out.profit > best.profit:
            best = out
    return best, refusal


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

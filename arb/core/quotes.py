"""What every detector checks on a book before pricing on it: synced, fresh, and the latency
haircut of its quote (pure; time as arguments).

The haircut is the adverse move expected while the order travels: ``sigmas`` standard
deviations of the book's mid (its EWMA volatility, fed here with the mid when it moved) over
``sqrt(order latency + quote age)``, as a rate in ppb of notional (rounded up).
"""

from __future__ import annotations

import math

from arb.core.sizing import RATE_ONE
from arb.core.sync import BookSync
from arb.core.volatility import NS_PER_S
from arb.core.volatility import Volatility

__all__ = ["book_age", "quote_haircut"]

NS_PER_MS = 1_000_000
BOOK_INVALID = "BOOK_INVALID"
STALE_BOOK = "STALE_BOOK"


def book_age(
    sync: BookSync | None,
    key: tuple[str, str],
    now_ns: int,
    max_age_ns: int,
    max_age_ms: int,
) -> int | tuple[str, str]:
    """The age (ns, >= 0) of a synced book received at most ``max_age_ns`` ago, else the
    refusal: ``BOOK_INVALID:<venue>:<symbol>`` or ``STALE_BOOK:<venue>:<symbol>``."""
    venue, symbol = key
    if sync is None or not sync.valid:
        why = sync.last_failure if sync is not None else "no book"
        return (
            f"{BOOK_INVALID}:{venue}:{symbol}",
            f"{venue} {symbol} book is not synced ({why or 'awaiting snapshot'})",
        )
    age = max(now_ns - sync.book.ts_recv, 0)
    if age > max_age_ns:
        return (
            f"{STALE_BOOK}:{venue}:{symbol}",
            f"{venue} {symbol} book was received {age / NS_PER_MS:.3f} ms ago, "
            f"limit {max_age_ms} ms",
        )
    return age


def quote_haircut(
    vol: Volatility,
    sync: BookSync,
    now_ns: int,
    latency_s: float,
    age_ns: int,
    sigmas: float,
) -> tuple[float, int]:
    """Feed ``vol`` with the book's mid (bid + ask, raw) when it moved; return ``(sigma per
    sqrt s, haircut rate in ppb)`` for an order of ``latency_s`` on a quote ``age_ns`` old."""
    book = sync.book
    maxes = book.bid_prices._maxes
    lists = book.ask_prices._lists
    if maxes and lists:
        mid = maxes[-1] + lists[0][0]
        if mid != vol.last_mid:
            vol.update(book.ts_recv or now_ns, mid)
    sigma = vol.sigma_per_sqrt_s(now_ns)
    rate = sigmas * sigma * math.sqrt(latency_s + age_ns / NS_PER_S)
    return sigma, math.ceil(rate * RATE_ONE)

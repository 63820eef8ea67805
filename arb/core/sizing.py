"""Sizing a two-venue trade: the two-book walk, and lot and minimum rounding.

Two instruments of the same symbol on two venues may scale their numbers differently (OKX
BTC-USDT: tick 0.1, lot 1e-8; Binance: tick 0.01, lot 1e-5). The walk compares them on a
**common scale**: prices at the larger of the two price precisions, sizes at the larger of the two
size precisions; a raw number moves to the common scale by one multiplication by a power of 10,
which is exact. Notionals (price x size) are then at the sum of the two common precisions.

``walk_cross`` walks the asks of the buy venue upwards and the bids of the sell venue downwards
together (the classic two-book walk) and takes size while the marginal unit pays::

    bid * sell_rate > ask * buy_rate       sell_rate = 1 - fee_sell - haircut_sell
                                           buy_rate  = 1 + fee_buy  + haircut_buy

(rates are integers in parts per ``RATE_ONE``), up to the caps in ``WalkCaps``. Because the asks
only get dearer and the bids only cheaper, every unit it takes adds profit and the first unit it
refuses would not: the size it returns maximizes the expected profit before rounding. Rounding
down to the lots keeps every cap, which are all monotone in the size.
"""

from __future__ import annotations

import math

import msgspec

from arb.core.book import LocalBook
from arb.core.numbers import POW10
from arb.core.numbers import decimals_of
from arb.core.numbers import to_raw

__all__ = [
    "NO_CAP",
    "RATE_ONE",
    "CrossWalk",
    "WalkCaps",
    "ceil_raw",
    "common_lot",
    "floor_raw",
    "round_down",
    "walk_cross",
]

RATE_ONE = 1_000_000_000
"""Rates (fees, haircuts) in the walk are integers in parts per billion of notional."""

NO_CAP = 1 << 127
"""A cap larger than any book: what an absent limit is set to."""


class WalkCaps(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Limits of one two-book walk, on the walk's common scales (see the module docstring).

    The quote budget of the buy venue is ``cost * budget_factor <= budget``: the factor folds the
    buy fee and the conversion from the notional scale to money in, so the check is exact.
    """

    max_qty: int = NO_CAP
    """Largest size (common size scale)."""
    max_notional: int = NO_CAP
    """Largest notional of either leg (common notional scale)."""
    budget: int = NO_CAP
    budget_factor: int = 1
    max_base: int = NO_CAP
    """Base asset available to sell on the sell venue (common size scale)."""


class CrossWalk(msgspec.Struct, frozen=True, gc=False):
    """What ``walk_cross`` found, on the common scales.

    ``limited_by`` names what stopped it: ``"profit"`` (the next unit would not pay),
    ``"depth"`` (a book ran out), ``"max_qty"``, ``"max_notional"``, ``"quote_balance"``,
    ``"base_balance"``.
    """

    qty: int
    cost: int
    """Sum of ask price x size taken (what the buy leg pays before fees)."""
    proceeds: int
    """Sum of bid price x size taken (what the sell leg receives before fees)."""
    limited_by: str


def walk_cross(
    buy_book: LocalBook,
    sell_book: LocalBook,
    *,
    ask_px_mul: int,
    ask_qty_mul: int,
    bid_px_mul: int,
    bid_qty_mul: int,
    buy_rate: int,
    sell_rate: int,
    caps: WalkCaps,
) -> CrossWalk:
    """Walk the asks of ``buy_book`` and the bids of ``sell_book`` together while the marginal
    unit pays.

    ``*_mul`` move each book's raw prices and sizes to the common scales. Partial levels are
    taken; the size is not rounded to lots (see ``round_down``).
    Runtime complexity: O(levels taken).
    """
    asks, bids = buy_book.asks, sell_book.bids
    ask_iter = iter(buy_book.ask_prices)
    bid_iter = reversed(sell_book.bid_prices)
    apx = next(ask_iter, None)
    bpx = next(bid_iter, None)
    if apx is None or bpx is None:
        return CrossWalk(0, 0, 0, "depth")
    a_left = asks[apx] * ask_qty_mul
    b_left = bids[bpx] * bid_qty_mul
    apx *= ask_px_mul
    bpx *= bid_px_mul
    # Three running caps: on the size (max_qty or the base balance, the smaller), on the cost
    # (max_notional or the quote budget, ``cost * factor <= budget``), on the proceeds.
    qty_cap, qty_why = (
        (caps.max_qty, "max_qty")
        if caps.max_qty <= caps.max_base
        else (caps.max_base, "base_balance")
    )
    budget_cost = caps.budget // caps.budget_factor
    max_notional = caps.max_notional
    cost_cap, cost_why = (
        (max_notional, "max_notional")
        if max_notional <= budget_cost
        else (budget_cost, "quote_balance")
    )
    qty = cost = proceeds = 0
    while bpx * sell_rate > apx * buy_rate:
        take = a_left if a_left < b_left else b_left
        why = ""
        room = qty_cap - qty
        if room < take:
            take, why = room, qty_why
        room = (cost_cap - cost) // apx
        if room < take:
            take, why = room, cost_why
        room = (max_notional - proceeds) // bpx
        if room < take:
            take, why = room, "max_notional"
        if take > 0:
            qty += take
            cost += apx * take
            proceeds += bpx * take
        if why:
            return CrossWalk(qty, cost, proceeds, why)
        a_left -= take
        b_left -= take
        if not a_left:
            apx = next(ask_iter, None)
            if apx is None:
                return CrossWalk(qty, cost, proceeds, "depth")
            a_left = asks[apx] * ask_qty_mul
            apx *= ask_px_mul
        if not b_left:
            bpx = next(bid_iter, None)
            if bpx is None:
                return CrossWalk(qty, cost, proceeds, "depth")
            b_left = bids[bpx] * bid_qty_mul
            bpx *= bid_px_mul
    return CrossWalk(qty, cost, proceeds, "profit")


def common_lot(lot_a: int, lot_b: int) -> int:
    """Smallest size that is a whole number of both lots (both on one scale): their lcm."""
    return math.lcm(lot_a, lot_b)


def round_down(qty: int, lot: int) -> int:
    """Round a size down to a multiple of ``lot``."""
    return qty - qty % lot


def floor_raw(s: str, precision: int) -> int:
    """A decimal string as a raw integer at ``precision``, rounded down when it is finer."""
    d = decimals_of(s)
    if d <= precision:
        return to_raw(s, precision)
    return to_raw(s, d) // POW10[d - precision]


def ceil_raw(s: str, precision: int) -> int:
    """A decimal string as a raw integer at ``precision``, rounded up when it is finer."""
    d = decimals_of(s)
    if d <= precision:
        return to_raw(s, precision)
    return -(-to_raw(s, d) // POW10[d - precision])

"""L2 order book for one (venue, instrument): per side, sizes by raw price and sorted prices.

Each side is a plain ``dict[int, int]`` (``bids``, ``asks``: raw price -> raw size, C-speed
lookups and stores) and a ``SortedList`` of its prices (``bid_prices``, ``ask_prices``,
ascending): the best ask is ``ask_prices[0]``, the best bid ``bid_prices[-1]``; iterate the
prices list for depth in price order (``reversed(bid_prices)`` for bids, best first).
Quantities are raw integers; a level never holds 0.

When ``keep_raw`` is set, the book also keeps each level's price and size strings exactly as
the venue sent them, for checksums computed over the original text (OKX). The book itself
knows nothing about sequences or checksums: ``arb.core.sync.BookSync`` drives it.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from itertools import chain
from itertools import islice

import msgspec
from sortedcontainers import SortedList

from arb.core.book_apply import Level
from arb.core.book_apply import RawRows
from arb.core.book_apply import applier
from arb.core.book_apply import raw_applier
from arb.core.book_apply import text_applier
from arb.core.errors import InvariantViolation
from arb.core.events import TextRow
from arb.core.scaler import RawScaler
from arb.core.types import Side

__all__ = ["DepthWalk", "LocalBook"]


class DepthWalk(msgspec.Struct, frozen=True, gc=False):
    """Result of walking one side of the book as a taker.

    ``notional`` is ``sum(px_raw * qty_raw)`` (scale: price precision + size precision);
    ``worst_px`` is the last (worst) price touched, 0 when nothing was available.
    """

    qty: int
    notional: int
    worst_px: int
    levels: int

    def vwap(self) -> float:
        """Volume-weighted average price in raw price units (for display, not money math)."""
        return self.notional / self.qty if self.qty else 0.0


class LocalBook:
    """One L2 book. Not thread-safe; owned by one task."""

    __slots__ = (
        "_apply_asks",
        "_apply_bids",
        "_apply_raw_asks",
        "_apply_raw_bids",
        "_ask_lists",
        "_bid_maxes",
        "_raw_asks",
        "_raw_bids",
        "apply_text_asks",
        "apply_text_bids",
        "ask_prices",
        "asks",
        "bid_prices",
        "bids",
        "keep_raw",
        "symbol",
        "text_scaler",
        "ts_event",
        "ts_recv",
        "venue",
    )

    def __init__(self, venue: str, symbol: str, *, keep_raw: bool = False) -> None:
        self.venue = venue
        self.symbol = symbol
        self.keep_raw = keep_raw
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_prices: SortedList = SortedList()
        self.ask_prices: SortedList = SortedList()
        # The SortedLists' own lists, mutated in place for the life of the SortedLists (which
        # are never replaced): best bid ``_bid_maxes[-1]``, best ask ``_ask_lists[0][0]``.
        self._bid_maxes: list[int] = self.bid_prices._maxes
        self._ask_lists: list[list[int]] = self.ask_prices._lists
        self._apply_bids = applier(self.bids, self.bid_prices)
        self._apply_asks = applier(self.asks, self.ask_prices)
        self._raw_bids: dict[int, tuple[str, str]] = {}
        self._raw_asks: dict[int, tuple[str, str]] = {}
        self._apply_raw_bids = raw_applier(self.bids, self.bid_prices, self._raw_bids)
        self._apply_raw_asks = raw_applier(self.asks, self.ask_prices, self._raw_asks)
        # Text rows (``TextBookDelta``): appliers bound to the scaler of the last text update.
        self.text_scaler: RawScaler | None = None
        self.apply_text_bids: Callable[[Sequence[TextRow]], None] = _no_text
        self.apply_text_asks: Callable[[Sequence[TextRow]], None] = _no_text
        self.ts_event = 0
        self.ts_recv = 0

    # -- updates -------------------------------------------------------------------------

    def clear(self) -> None:
        """Drop every level. Runtime complexity: O(n)."""
        self.bids.clear()
        self.asks.clear()
        self.bid_prices.clear()
        self.ask_prices.clear()
        self._raw_bids.clear()
        self._raw_asks.clear()

    def apply_snapshot(
        self,
        bids: Sequence[Level],
        asks: Sequence[Level],
        raw_bids: RawRows | None = None,
        raw_asks: RawRows | None = None,
    ) -> None:
        """Replace the book. Levels of size 0 are ignored. Runtime complexity: O(n log n)."""
        self.clear()
        self.apply_deltas(bids, asks, raw_bids, raw_asks)

    def apply_deltas(
        self,
        bids: Sequence[Level],
        asks: Sequence[Level],
        raw_bids: RawRows | None = None,
        raw_asks: RawRows | None = None,
    ) -> None:
        """Set each level's size; size 0 deletes. Runtime complexity: O(k log n) for k levels."""
        if self.keep_raw and raw_bids is not None and raw_asks is not None:
            self._apply_raw_bids(bids, raw_bids)
            self._apply_raw_asks(asks, raw_asks)
            return
        if self.keep_raw:
            # Raw strings were not supplied: the checksum can no longer be trusted.
            self._raw_bids.clear()
            self._raw_asks.clear()
            self.keep_raw = False
        if bids:
            self._apply_bids(bids)
        if asks:
            self._apply_asks(asks)

    def apply_text(
        self, bids: Sequence[TextRow], asks: Sequence[TextRow], scaler: RawScaler
    ) -> None:
        """``apply_deltas`` of text rows, each converted by ``scaler`` as it is applied.

        Raises ``PrecisionError`` for a string that does not fit, with the levels before it
        applied: the book must then be cleared (``BookSync`` does). Runtime: O(k log n).
        """
        if scaler is not self.text_scaler:
            self.text_scaler = scaler
            self.apply_text_bids = text_applier(self.bids, self.bid_prices, scaler)
            self.apply_text_asks = text_applier(self.asks, self.ask_prices, scaler)
        if self.keep_raw:  # no raw strings: the checksum can no longer be trusted
            self._raw_bids.clear()
            self._raw_asks.clear()
            self.keep_raw = False
        self.apply_text_bids(bids)
        self.apply_text_asks(asks)

    # -- reads ---------------------------------------------------------------------------

    def best_bid(self) -> Level | None:
        """Best (highest) bid as ``(px_raw, qty_raw)``. Runtime complexity: O(1)."""
        maxes = self._bid_maxes
        if not maxes:
            return None
        px = maxes[-1]
        return (px, self.bids[px])

    def best_ask(self) -> Level | None:
        """Best (lowest) ask as ``(px_raw, qty_raw)``. Runtime complexity: O(1)."""
        lists = self._ask_lists
        if not lists:
            return None
        px = lists[0][0]
        return (px, self.asks[px])

    def is_crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask. Runtime complexity: O(1)."""
        maxes, lists = self._bid_maxes, self._ask_lists
        return bool(maxes and lists and maxes[-1] >= lists[0][0])

    def is_empty(self) -> bool:
        return not self.bids and not self.asks

    def top(self, side: Side, n: int) -> list[Level]:
        """Best ``n`` levels of one book side (``Side.BUY`` = bids), best first. O(n)."""
        if side is _BUY:
            keys = _best_bids(self.bid_prices._lists, n)
            get = self.bids.__getitem__
        else:
            keys = _best_asks(self._ask_lists, n)
            get = self.asks.__getitem__
        return list(zip(keys, map(get, keys), strict=True))

    def raw_top(self, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Best ``n`` bids and asks as the venue's original strings (requires ``keep_raw``)."""
        if not self.keep_raw:
            raise InvariantViolation(f"{self.venue}:{self.symbol} keeps no raw strings")
        return (
            list(map(self._raw_bids.__getitem__, _best_bids(self.bid_prices._lists, n))),
            list(map(self._raw_asks.__getitem__, _best_asks(self._ask_lists, n))),
        )

    def walk(self, taker_side: Side, qty: int, limit_px: int | None = None) -> DepthWalk:
        """Walk the opposite side as a taker for up to ``qty`` (raw), not past ``limit_px``.

        A buyer walks the asks upwards, a seller the bids downwards. Returns how much is
        executable, its notional and the worst price touched. Runtime complexity: O(levels).
        """
        keys: Iterator[int]
        buy = taker_side is _BUY
        if buy:
            keys = chain.from_iterable(self._ask_lists)
            get = self.asks.__getitem__
        else:
            keys = chain.from_iterable(map(reversed, reversed(self.bid_prices._lists)))
            get = self.bids.__getitem__
        left = qty
        notional = 0
        worst = 0
        levels = 0
        for px in keys:
            if left <= 0 or (limit_px is not None and (px > limit_px if buy else px < limit_px)):
                break
            take = get(px)
            if take > left:
                take = left
            notional += px * take
            left -= take
            worst = px
            levels += 1
        return DepthWalk(qty - left, notional, worst, levels)

    def walk_to_price(self, taker_side: Side, limit_px: int) -> DepthWalk:
        """Everything executable up to ``limit_px``. Runtime complexity: O(levels)."""
        total = sum(self.asks.values() if taker_side is _BUY else self.bids.values())
        return self.walk(taker_side, total, limit_px)

    def check(self) -> None:
        """Assert the invariants: no zero or negative sizes, uncrossed, raw strings consistent.

        Raises ``InvariantViolation``. Runtime complexity: O(n). For tests and debugging.
        """
        for name, side, prices in (
            ("bids", self.bids, self.bid_prices),
            ("asks", self.asks, self.ask_prices),
        ):
            for px, qty in side.items():
                if qty <= 0:
                    raise InvariantViolation(f"{self.venue}:{self.symbol} {name} {px} has {qty}")
            if len(prices) != len(side) or set(prices) != side.keys():
                raise InvariantViolation(f"{self.venue}:{self.symbol} {name} prices out of step")
            prices._check()
        if self.is_crossed():
            raise InvariantViolation(f"{self.venue}:{self.symbol} is crossed")
        if self.keep_raw and (
            self._raw_bids.keys() != set(self.bids) or self._raw_asks.keys() != set(self.asks)
        ):
            raise InvariantViolation(f"{self.venue}:{self.symbol} raw strings out of step")

    def iter_asks(self) -> Iterator[Level]:
        """Asks as ``(px, qty)``, best (lowest) first. Runtime: O(1) per level."""
        asks = self.asks
        return ((px, asks[px]) for px in self.ask_prices)

    def iter_bids(self) -> Iterator[Level]:
        """Bids as ``(px, qty)``, best (highest) first. Runtime: O(1) per level."""
        bids = self.bids
        return ((px, bids[px]) for px in reversed(self.bid_prices))

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)

    def __repr__(self) -> str:
        return (
            f"LocalBook({self.venue}:{self.symbol} bid={self.best_bid()} "
            f"ask={self.best_ask()} levels={len(self)})"
        )


def _no_text(rows: Sequence[TextRow]) -> None:
    raise AssertionError("apply_text binds the text appliers first")


_BUY = Side.BUY  # reading an Enum member off its class costs ~100 ns in CPython 3.11


def _best_asks(lists: list[list[int]], n: int) -> list[int]:
    """The ``n`` lowest keys of a SortedList's ``_lists``, lowest first."""
    if n > 0 and lists and len(lists[0]) >= n:
        return lists[0][:n]
    return list(islice(chain.from_iterable(lists), n))


def _best_bids(lists: list[list[int]], n: int) -> list[int]:
    """The ``n`` highest keys of a SortedList's ``_lists``, highest first."""
    if n > 0 and lists and len(lists[-1]) >= n:
        return lists[-1][: -n - 1 : -1]
    return list(islice(chain.from_iterable(map(reversed, reversed(lists))), n))

"""L2 order book for one (venue, instrument): two ``SortedDict[int, int]`` keyed by raw price.

Both sides are stored in ascending price order: the best ask is ``asks.peekitem(0)`` and the
best bid is ``bids.peekitem(-1)``. Quantities are raw integers; a level never holds 0.

When ``keep_raw`` is set, the book also keeps each level's price and size strings exactly as
the venue sent them, for checksums computed over the original text (OKX). The book itself
knows nothing about sequences or checksums: ``arb.core.sync.BookSync`` drives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

import msgspec
from sortedcontainers import SortedDict

from arb.core.errors import InvariantViolation
from arb.core.types import Side

__all__ = ["DepthWalk", "LocalBook"]

Level = tuple[int, int]
RawRows = Sequence[Sequence[str]]


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
        "_raw_asks",
        "_raw_bids",
        "asks",
        "bids",
        "keep_raw",
        "symbol",
        "ts_event",
        "ts_recv",
        "venue",
    )

    def __init__(self, venue: str, symbol: str, *, keep_raw: bool = False) -> None:
        self.venue = venue
        self.symbol = symbol
        self.keep_raw = keep_raw
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self._raw_bids: dict[int, tuple[str, str]] = {}
        self._raw_asks: dict[int, tuple[str, str]] = {}
        self.ts_event = 0
        self.ts_recv = 0

    # -- updates -------------------------------------------------------------------------

    def clear(self) -> None:
        """Drop every level. Runtime complexity: O(n)."""
        self.bids.clear()
        self.asks.clear()
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
            _apply_raw(self.bids, self._raw_bids, bids, raw_bids)
            _apply_raw(self.asks, self._raw_asks, asks, raw_asks)
            return
        if self.keep_raw:
            # Raw strings were not supplied: the checksum can no longer be trusted.
            self._raw_bids.clear()
            self._raw_asks.clear()
            self.keep_raw = False
        _apply(self.bids, bids)
        _apply(self.asks, asks)

    # -- reads ---------------------------------------------------------------------------

    def best_bid(self) -> Level | None:
        """Best (highest) bid as ``(px_raw, qty_raw)``. Runtime complexity: O(1)."""
        bids = self.bids
        if not bids:
            return None
        px = bids._list._maxes[-1]
        return (px, _dget(bids, px))

    def best_ask(self) -> Level | None:
        """Best (lowest) ask as ``(px_raw, qty_raw)``. Runtime complexity: O(1)."""
        asks = self.asks
        if not asks:
            return None
        px = asks._list._lists[0][0]
        return (px, _dget(asks, px))

    def is_crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask. Runtime complexity: O(1)."""
        bids, asks = self.bids, self.asks
        if not bids or not asks:
            return False
        return bool(bids._list._maxes[-1] >= asks._list._lists[0][0])

    def is_empty(self) -> bool:
        return not self.bids and not self.asks

    def top(self, side: Side, n: int) -> list[Level]:
        """Best ``n`` levels of one book side (``Side.BUY`` = bids), best first. O(n)."""
        if side is Side.BUY:
            keys = islice(reversed(self.bids), n)
            get = self.bids.__getitem__
        else:
            keys = islice(self.asks, n)
            get = self.asks.__getitem__
        return [(px, get(px)) for px in keys]

    def raw_top(self, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Best ``n`` bids and asks as the venue's original strings (requires ``keep_raw``)."""
        if not self.keep_raw:
            raise InvariantViolation(f"{self.venue}:{self.symbol} keeps no raw strings")
        rb, ra = self._raw_bids, self._raw_asks
        return (
            [rb[px] for px in islice(reversed(self.bids), n)],
            [ra[px] for px in islice(self.asks, n)],
        )

    def walk(self, taker_side: Side, qty: int, limit_px: int | None = None) -> DepthWalk:
        """Walk the opposite side as a taker for up to ``qty`` (raw), not past ``limit_px``.

        A buyer walks the asks upwards, a seller the bids downwards. Returns how much is
        executable, its notional and the worst price touched. Runtime complexity: O(levels).
        """
        if taker_side is Side.BUY:
            keys = iter(self.asks)
            book = self.asks
            beyond = (lambda px: px > limit_px) if limit_px is not None else None
        else:
            keys = reversed(self.bids)
            book = self.bids
            beyond = (lambda px: px < limit_px) if limit_px is not None else None
        left = qty
        notional = 0
        worst = 0
        levels = 0
        for px in keys:
            if left <= 0 or (beyond is not None and beyond(px)):
                break
            take = book[px]
            if take > left:
                take = left
            notional += px * take
            left -= take
            worst = px
            levels += 1
        return DepthWalk(qty - left, notional, worst, levels)

    def walk_to_price(self, taker_side: Side, limit_px: int) -> DepthWalk:
        """Everything executable up to ``limit_px``. Runtime complexity: O(levels)."""
        total = sum(self.asks.values() if taker_side is Side.BUY else self.bids.values())
        return self.walk(taker_side, total, limit_px)

    def check(self) -> None:
        """Assert the invariants: no zero or negative sizes, uncrossed, raw strings consistent.

        Raises ``InvariantViolation``. Runtime complexity: O(n). For tests and debugging.
        """
        for name, side in (("bids", self.bids), ("asks", self.asks)):
            for px, qty in side.items():
                if qty <= 0:
                    raise InvariantViolation(f"{self.venue}:{self.symbol} {name} {px} has {qty}")
        if self.is_crossed():
            raise InvariantViolation(f"{self.venue}:{self.symbol} is crossed")
        if self.keep_raw and (
            self._raw_bids.keys() != set(self.bids) or self._raw_asks.keys() != set(self.asks)
        ):
            raise InvariantViolation(f"{self.venue}:{self.symbol} raw strings out of step")

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)

    def __repr__(self) -> str:
        return (
            f"LocalBook({self.venue}:{self.symbol} bid={self.best_bid()} "
            f"ask={self.best_ask()} levels={len(self)})"
        )


# The apply loops below do what ``SortedDict.__setitem__`` and ``SortedDict.pop`` do, without
# their Python frames: membership and storage on the dict (C), order on the SortedDict's own
# ``_list_add`` / ``_list_remove`` (bound ``SortedList`` methods, public since
# sortedcontainers 2.0). Reads use ``SortedList._maxes`` / ``_lists`` for O(1) best levels.
# ``tests/unit/test_book.py`` checks all of it against a naive model after every step.
_dset = dict.__setitem__
_dpop = dict.pop
_dget = dict.__getitem__


def _apply(side: SortedDict, levels: Sequence[Level]) -> None:
    ladd = side._list_add
    lremove = side._list_remove
    for px, qty in levels:
        if qty:
            if px not in side:
                ladd(px)
            _dset(side, px, qty)
        elif px in side:
            lremove(px)
            _dpop(side, px)


def _apply_raw(
    side: SortedDict,
    raw: dict[int, tuple[str, str]],
    levels: Sequence[Level],
    rows: RawRows,
) -> None:
    ladd = side._list_add
    lremove = side._list_remove
    raw_pop = raw.pop
    for (px, qty), row in zip(levels, rows, strict=True):
        if qty:
            if px not in side:
                ladd(px)
            _dset(side, px, qty)
            raw[px] = (row[0], row[1])
        elif px in side:
            lremove(px)
            _dpop(side, px)
            raw_pop(px, None)

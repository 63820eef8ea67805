"""L2 order book for one (venue, instrument): two ``SortedDict[int, int]`` keyed by raw price.

Both sides are stored in ascending price order: the best ask is ``asks.peekitem(0)`` and the
best bid is ``bids.peekitem(-1)``. Quantities are raw integers; a level never holds 0.

When ``keep_raw`` is set, the book also keeps each level's price and size strings exactly as
the venue sent them, for checksums computed over the original text (OKX). The book itself
knows nothing about sequences or checksums: ``arb.core.sync.BookSync`` drives it.
"""

from __future__ import annotations

from bisect import bisect_left
from bisect import insort
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from itertools import chain
from itertools import islice

import msgspec
from sortedcontainers import SortedDict
from sortedcontainers import SortedList

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
        "_apply_asks",
        "_apply_bids",
        "_apply_raw_asks",
        "_apply_raw_bids",
        "_ask_lists",
        "_bid_maxes",
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
        # The SortedLists' own lists, mutated in place for the life of the SortedDicts (which
        # are never replaced): best bid ``_bid_maxes[-1]``, best ask ``_ask_lists[0][0]``.
        self._bid_maxes: list[int] = self.bids._list._maxes
        self._ask_lists: list[list[int]] = self.asks._list._lists
        self._apply_bids = _applier(self.bids)
        self._apply_asks = _applier(self.asks)
        self._raw_bids: dict[int, tuple[str, str]] = {}
        self._raw_asks: dict[int, tuple[str, str]] = {}
        self._apply_raw_bids = _raw_applier(self.bids, self._raw_bids)
        self._apply_raw_asks = _raw_applier(self.asks, self._raw_asks)
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

    # -- reads ---------------------------------------------------------------------------

    def best_bid(self) -> Level | None:
        """Best (highest) bid as ``(px_raw, qty_raw)``. Runtime complexity: O(1)."""
        maxes = self._bid_maxes
        if not maxes:
            return None
        px = maxes[-1]
        return (px, _dget(self.bids, px))

    def best_ask(self) -> Level | None:
        """Best (lowest) ask as ``(px_raw, qty_raw)``. Runtime complexity: O(1)."""
        lists = self._ask_lists
        if not lists:
            return None
        px = lists[0][0]
        return (px, _dget(self.asks, px))

    def is_crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask. Runtime complexity: O(1)."""
        maxes, lists = self._bid_maxes, self._ask_lists
        return bool(maxes and lists and maxes[-1] >= lists[0][0])

    def is_empty(self) -> bool:
        return not self.bids and not self.asks

    def top(self, side: Side, n: int) -> list[Level]:
        """Best ``n`` levels of one book side (``Side.BUY`` = bids), best first. O(n)."""
        if side is _BUY:
            keys = _best_bids(self.bids._list._lists, n)
            get = _dget.__get__(self.bids)
        else:
            keys = _best_asks(self._ask_lists, n)
            get = _dget.__get__(self.asks)
        return list(zip(keys, map(get, keys), strict=True))

    def raw_top(self, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Best ``n`` bids and asks as the venue's original strings (requires ``keep_raw``)."""
        if not self.keep_raw:
            raise InvariantViolation(f"{self.venue}:{self.symbol} keeps no raw strings")
        return (
            list(map(self._raw_bids.__getitem__, _best_bids(self.bids._list._lists, n))),
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
            get = _dget.__get__(self.asks)
        else:
            keys = chain.from_iterable(map(reversed, reversed(self.bids._list._lists)))
            get = _dget.__get__(self.bids)
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
        total = sum(dict.values(self.asks) if taker_side is _BUY else dict.values(self.bids))
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
# their Python frames. Membership and storage go to the dict (C). Order lives in the
# SortedDict's ``SortedList`` (``side._list``): its ``_lists`` (sorted sublists) and ``_maxes``
# (each sublist's last value). A book of up to 2 x load factor (2,000) levels a side is one
# sublist, and then a new level is one ``insort`` and a removed level one ``bisect`` + ``del``
# on that list, with ``_maxes``, ``_len`` and ``_index`` fixed once per side per update
# (``_applier``). An empty side is filled with one sort (``_fill``); several sublists go through
# the SortedList's own ``_list_add`` / ``_list_remove`` (``_apply_slow``). Reads use ``_maxes`` /
# ``_lists`` for O(1) best levels. ``tests/unit/test_book.py`` checks all of it (and
# ``SortedDict._check``) against a naive model after every step, with the default load factor
# and a tiny one.
_dset = dict.__setitem__
_dsetdefault = dict.setdefault
_dpop = dict.pop
_dget = dict.__getitem__
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


def _applier(side: SortedDict) -> Callable[[Sequence[Level]], None]:
    """The apply loop of one book side, with everything it touches bound once.

    ``_lists``, ``_maxes`` and ``_index`` are created with the ``SortedList`` and only ever
    mutated in place (``clear`` included); the SortedDict itself is never replaced.
    """
    sl = side._list
    lists: list[list[int]] = sl._lists
    maxes: list[int] = sl._maxes
    index: list[int] = sl._index
    dset = _dset.__get__(side)  # dict's own store and pop: SortedDict's are Python-level
    dadd = _dsetdefault.__get__(side)  # a new key: half the cost of ``dset`` (fast call)
    dpop = _dpop.__get__(side)

    def apply(levels: Sequence[Level]) -> None:
        if len(lists) != 1:
            if lists:
                _apply_slow(side, levels)
            else:
                _fill(side, levels, None, None)
            return
        keys = lists[0]
        if index:
            del index[:]  # positional index: rebuilt by sortedcontainers when next needed
        for px, qty in levels:
            if qty:
                if px in side:
                    dset(px, qty)
                else:
                    insort(keys, px)
                    dadd(px, qty)
            elif dpop(px, None) is not None:
                del keys[bisect_left(keys, px)]
        n = len(keys)
        sl._len = n
        if n and n <= sl._load << 1:
            maxes[0] = keys[-1]
        else:
            _fix(sl, keys)

    return apply


def _fix(sl: SortedList, keys: list[int]) -> None:
    """Restore ``_maxes`` / ``_lists`` of a ``SortedList`` whose single sublist ``keys`` was
    edited, also when it became empty or longer than twice the load (``_len``, ``_index``:
    the caller's)."""
    if keys:
        sl._maxes[0] = keys[-1]
        load2 = sl._load << 1
        lists = sl._lists
        pos = 0
        while len(lists[pos]) > load2:
            sl._expand(pos)  # splits the sublist after ``load`` values
            pos += 1
    else:
        del sl._lists[:]
        del sl._maxes[:]


def _fill(
    side: SortedDict,
    levels: Sequence[Level],
    raw: dict[int, tuple[str, str]] | None,
    rows: RawRows | None,
) -> None:
    """Levels into an empty side: one sort instead of one insertion per level.

    Same result as applying them in order: the last size of a price wins, size 0 deletes.
    """
    d = dict(levels)
    raws = None
    if raw is not None and rows is not None:
        raws = {px: (row[0], row[1]) for (px, _), row in zip(levels, rows, strict=True)}
    if 0 in d.values():
        d = {px: qty for px, qty in d.items() if qty}
    dict.update(side, d)
    side._list.update(d)
    if raw is not None and raws is not None:
        raw.update({px: raws[px] for px in d})


def _apply_slow(side: SortedDict, levels: Sequence[Level]) -> None:
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


def _raw_applier(
    side: SortedDict, raw: dict[int, tuple[str, str]]
) -> Callable[[Sequence[Level], RawRows], None]:
    """``_applier`` for a book keeping raw strings: ``raw[px]`` follows every level."""
    sl = side._list
    lists: list[list[int]] = sl._lists
    maxes: list[int] = sl._maxes
    index: list[int] = sl._index
    dset = _dset.__get__(side)
    dpop = _dpop.__get__(side)
    raw_pop = raw.pop

    def apply(levels: Sequence[Level], rows: RawRows) -> None:
        if len(lists) != 1:
            if lists:
                _apply_raw_slow(side, raw, levels, rows)
            else:
                _fill(side, levels, raw, rows)
            return
        keys = lists[0]
        if index:
            del index[:]
        for (px, qty), row in zip(levels, rows, strict=True):
            if qty:
                if px not in side:
                    insort(keys, px)
                dset(px, qty)
                raw[px] = (row[0], row[1])
            elif dpop(px, None) is not None:
                del keys[bisect_left(keys, px)]
                raw_pop(px, None)
        n = len(keys)
        sl._len = n
        if n and n <= sl._load << 1:
            maxes[0] = keys[-1]
        else:
            _fix(sl, keys)

    return apply


def _apply_raw_slow(
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

"""The apply loops of ``LocalBook``: levels into a side (sizes ``dict``, prices ``SortedList``).

Membership and sizes go to the plain dict (C: a store is ~25 ns, where a ``SortedDict``'s
Python-level ``__setitem__``, or even ``dict.__setitem__`` called on it, costs 3-4 times as
much). Order lives in the prices ``SortedList``: its ``_lists`` (sorted sublists) and ``_maxes``
(each sublist's last value), edited here in place. A book of up to 2 x load factor (2,000)
levels a side is one sublist, and then a new level is one ``insort`` and a removed level one
``bisect`` + ``del`` on that list, with ``_maxes``, ``_len`` and ``_index`` fixed once per side
per update (``applier``). An empty side is filled with one sort (``_fill``); several sublists go
through the SortedList's own ``add`` / ``remove`` (``_apply_general``). Reads use ``_maxes`` /
``_lists`` for O(1) best levels.

``text_applier`` is the same loop over the venue's text rows: each row's price and size go
through the instrument's memos (``RawScaler``; a dict hit per string seen before) as the row is
applied, so an update is one pass over its rows, with no list of converted levels built. A
string that does not fit raises ``PrecisionError`` before its row changes anything; the
levels before it are applied and ``_len``/``_maxes`` are stale: the caller (``BookSync``)
clears the book.

``tests/unit/test_book.py`` checks all of it (and ``SortedList._check``) against a naive model
after every step, with the default load factor and a tiny one.
"""

from __future__ import annotations

from bisect import bisect_left
from bisect import insort
from collections.abc import Callable
from collections.abc import Sequence

from sortedcontainers import SortedList

from arb.core.events import TextRow
from arb.core.numbers import POW10
from arb.core.scaler import RawScaler

__all__ = ["Level", "RawRows", "applier", "raw_applier", "text_applier"]

Level = tuple[int, int]
RawRows = Sequence[Sequence[str]]

Sizes = dict[int, int]
RawStrings = dict[int, tuple[str, str]]


def applier(sizes: Sizes, prices: SortedList) -> Callable[[Sequence[Level]], None]:
    """The apply loop of one book side, with everything it touches bound once.

    ``_lists``, ``_maxes`` and ``_index`` are created with the ``SortedList`` and only ever
    mutated in place (``clear`` included); neither the dict nor the SortedList is replaced.
    """
    lists: list[list[int]] = prices._lists
    index: list[int] = prices._index
    pop = sizes.pop

    def apply(levels: Sequence[Level]) -> None:
        if len(lists) != 1:
            _apply_general(sizes, prices, levels)
            return
        keys = lists[0]
        if index:
            del index[:]  # positional index: rebuilt by sortedcontainers when next needed
        for px, qty in levels:
            if qty:
                if px not in sizes:
                    insort(keys, px)
                sizes[px] = qty
            elif pop(px, None) is not None:
                del keys[bisect_left(keys, px)]
        _settle(prices, keys)

    return apply


def _settle(prices: SortedList, keys: list[int]) -> None:
    """Fix ``_len`` and ``_maxes`` after the single sublist ``keys`` was edited in place."""
    n = len(keys)
    prices._len = n
    if n and n <= prices._load << 1:
        prices._maxes[0] = keys[-1]
    else:
        _fix(prices, keys)


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
    sizes: Sizes,
    prices: SortedList,
    levels: Sequence[Level],
    raw: RawStrings | None,
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
    sizes.update(d)
    prices.update(d)
    if raw is not None and raws is not None:
        raw.update({px: raws[px] for px in d})


def _apply_general(sizes: Sizes, prices: SortedList, levels: Sequence[Level]) -> None:
    """Any side but one of a single sublist: an empty one is filled, a long one goes through
    the SortedList's own ``add`` / ``remove``."""
    if not prices._lists:
        _fill(sizes, prices, levels, None, None)
        return
    add = prices.add
    remove = prices.remove
    for px, qty in levels:
        if qty:
            if px not in sizes:
                add(px)
            sizes[px] = qty
        elif px in sizes:
            remove(px)
            del sizes[px]


def raw_applier(
    sizes: Sizes, prices: SortedList, raw: RawStrings
) -> Callable[[Sequence[Level], RawRows], None]:
    """``applier`` for a book keeping raw strings: ``raw[px]`` follows every level."""
    lists: list[list[int]] = prices._lists
    index: list[int] = prices._index
    pop = sizes.pop
    raw_pop = raw.pop

    def apply(levels: Sequence[Level], rows: RawRows) -> None:
        if len(lists) != 1:
            if lists:
                _apply_raw_slow(sizes, prices, raw, levels, rows)
            else:
                _fill(sizes, prices, levels, raw, rows)
            return
        keys = lists[0]
        if index:
            del index[:]
        for (px, qty), row in zip(levels, rows, strict=True):
            if qty:
                if px not in sizes:
                    insort(keys, px)
                sizes[px] = qty
                raw[px] = (row[0], row[1])
            elif pop(px, None) is not None:
                del keys[bisect_left(keys, px)]
                raw_pop(px, None)
        _settle(prices, keys)

    return apply


def _apply_raw_slow(
    sizes: Sizes,
    prices: SortedList,
    raw: RawStrings,
    levels: Sequence[Level],
    rows: RawRows,
) -> None:
    add = prices.add
    remove = prices.remove
    raw_pop = raw.pop
    for (px, qty), row in zip(levels, rows, strict=True):
        if qty:
            if px not in sizes:
                add(px)
            sizes[px] = qty
            raw[px] = (row[0], row[1])
        elif px in sizes:
            remove(px)
            del sizes[px]
            raw_pop(px, None)


def text_applier(
    sizes: Sizes, prices: SortedList, scaler: RawScaler
) -> Callable[[Sequence[TextRow]], None]:
    """``applier`` over text rows (``.px``, ``.sz``), converted with ``scaler`` as applied."""
    lists: list[list[int]] = prices._lists
    maxes: list[int] = prices._maxes
    index: list[int] = prices._index
    pop = sizes.pop
    to_px, _ = scaler.getters()
    qty_memo = scaler.qty_memo
    qty_seen = qty_memo.get
    qty_prec = qty_memo.precision
    qty_cap = qty_memo.capacity
    levels = scaler.rows

    def apply(rows: Sequence[TextRow]) -> None:
        if len(lists) != 1:
            _apply_general(sizes, prices, levels(rows))
            return
        keys = lists[0]
        if index:
            del index[:]
        if len(qty_memo) >= qty_cap:
            qty_memo.clear()  # bounded per update, not per new string (a few over at most)
        for r in rows:
            px = to_px(r.px)
            s = r.sz
            qty = qty_seen(s)
            if qty is None:
                # ``RawMemo.__missing__``, inlined: about 30% of sizes are new strings, and
                # its Python frame would double their cost (the sizes of a busy book vary).
                a, _, f = s.partition(".")
                f = f.rstrip("0")  # zeros past the precision too (Binance sends 8 decimals)
                n = qty_prec - len(f)
                digits = a + f
                plain = n >= 0 and digits.isascii() and digits.isdigit()
                try:  # anything but plain digits: the memo's own path (raises PrecisionError)
                    qty = int(digits) * POW10[n] if plain else qty_memo[s]
                except ValueError:  # past int()'s 4,300 digits
                    qty = qty_memo[s]
                qty_memo[s] = qty
            if qty:
                if px not in sizes:
                    insort(keys, px)
                sizes[px] = qty
            elif pop(px, None) is not None:
                del keys[bisect_left(keys, px)]
        # ``_settle``, inlined (the engine's hot path: a call per side costs ~60 ns)
        n = len(keys)
        prices._len = n
        if n and n <= prices._load << 1:
            maxes[0] = keys[-1]
        else:
            _fix(prices, keys)

    return apply

"""Book benchmarks: apply-only, depth walk, top-N and best bid/ask.

``apply`` group: the whole stream's updates (20,000 messages, ~200k rows) applied to a book
that the (untimed) setup rebuilt from the snapshot, for

- arb ``LocalBook.apply_deltas`` with raw ints (production path with checksum 0 and no raw
  strings kept), and with raw strings kept (``keep_raw``: the checksum-capable OKX path);
- ccxt's pure-Python ``OrderBook`` driven as ccxt.pro does (``bookside.store(price, size)``
  with floats, asks then bids);
- a bare ``dict`` store per side: the floor (DESIGN §6), it keeps no order at all.

Every benchmark checks its final state against the generator's naive model, so it cannot
silently measure nothing. Compare rows by ratio within one run, never by absolute time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ccxt.async_support.base.ws.order_book import OrderBook

from arb.core.book import LocalBook
from arb.core.types import Side
from bench import record
from bench.streams import INST_ID
from bench.streams import PX_PREC
from bench.streams import QTY_PREC
from bench.streams import BookStream
from bench.streams import FLevel
from bench.streams import Level
from bench.streams import naive_walk

ROUNDS = 8

# -- builders (untimed setup) -------------------------------------------------------------


def arb_book(s: BookStream, *, keep_raw: bool = False) -> LocalBook:
    book = LocalBook("okx", INST_ID, keep_raw=keep_raw)
    if keep_raw:
        book.apply_snapshot(s.snap_bids, s.snap_asks, *s.snap_rows)
    else:
        book.apply_snapshot(s.snap_bids, s.snap_asks)
    return book


def ccxt_book(s: BookStream) -> Any:
    # ccxt.pro: ``self.order_book({}, 400)`` then every snapshot row goes through ``store``.
    ob = OrderBook({}, 400)
    for px, sz in s.snap_asks_float:
        ob["asks"].store(px, sz)
    for px, sz in s.snap_bids_float:
        ob["bids"].store(px, sz)
    return ob


def dict_book(s: BookStream) -> tuple[dict[int, int], dict[int, int]]:
    return dict(s.snap_bids), dict(s.snap_asks)


# -- timed bodies -------------------------------------------------------------------------


def apply_arb(book: LocalBook, deltas: list[tuple[list[Level], list[Level]]]) -> None:
    apply = book.apply_deltas
    for bids, asks in deltas:
        apply(bids, asks)


def apply_arb_raw(
    book: LocalBook,
    deltas: list[tuple[list[Level], list[Level]]],
    rows: list[tuple[list[list[str]], list[list[str]]]],
) -> None:
    apply = book.apply_deltas
    for (bids, asks), (raw_bids, raw_asks) in zip(deltas, rows, strict=True):
        apply(bids, asks, raw_bids, raw_asks)


def apply_ccxt(ob: Any, deltas: list[tuple[list[FLevel], list[FLevel]]]) -> None:
    # Bound methods cached: a little kinder to ccxt than ccxt.pro itself is.
    bids_store = ob["bids"].store
    asks_store = ob["asks"].store
    for bids, asks in deltas:
        for px, sz in asks:
            asks_store(px, sz)
        for px, sz in bids:
            bids_store(px, sz)


def apply_dict(
    book: tuple[dict[int, int], dict[int, int]], deltas: list[tuple[list[Level], list[Level]]]
) -> None:
    bids, asks = book
    bids_pop, asks_pop = bids.pop, asks.pop
    for b, a in deltas:
        for px, qty in b:
            if qty:
                bids[px] = qty
            else:
                bids_pop(px, None)
        for px, qty in a:
            if qty:
                asks[px] = qty
            else:
                asks_pop(px, None)


# -- final-state checks -------------------------------------------------------------------


def assert_arb_final(book: LocalBook, s: BookStream) -> None:
    assert book.best_bid() == s.final_best_bid()
    assert book.best_ask() == s.final_best_ask()
    assert len(book.bids) == len(s.final_bids)
    assert len(book.asks) == len(s.final_asks)
    assert dict(book.bids) == s.final_bids
    assert dict(book.asks) == s.final_asks
    book.check()


def ccxt_levels(side: list[list[float]]) -> list[Level]:
    return [(round(px * 10**PX_PREC), round(sz * 10**QTY_PREC)) for px, sz in side]


def assert_ccxt_final(ob: Any, s: BookStream) -> None:
    assert len(ob["bids"]) == len(s.final_bids)
    assert len(ob["asks"]) == len(s.final_asks)
    assert ccxt_levels(ob["bids"][:1]) == [s.final_best_bid()]
    assert ccxt_levels(ob["asks"][:1]) == [s.final_best_ask()]
    assert ccxt_levels(ob["bids"]) == s.final_top(True, len(s.final_bids))
    assert ccxt_levels(ob["asks"]) == s.final_top(False, len(s.final_asks))


def _run_apply(
    benchmark: Any, s: BookStream, make: Callable[[], Any], body: Callable[..., None], *args: Any
) -> Any:
    made: list[Any] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        made.append(make())
        return (made[-1], *args), {}

    benchmark.pedantic(body, setup=setup, rounds=ROUNDS, iterations=1)
    record(benchmark, levels=s.n_levels, messages=len(s.deltas))
    return made[-1]


# -- apply-only ---------------------------------------------------------------------------


def test_apply_arb_localbook(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "apply: 20k updates"
    s = book_stream
    book = _run_apply(benchmark, s, lambda: arb_book(s), apply_arb, s.deltas)
    assert_arb_final(book, s)


def test_apply_arb_localbook_keep_raw(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "apply: 20k updates"
    s = book_stream
    book = _run_apply(
        benchmark, s, lambda: arb_book(s, keep_raw=True), apply_arb_raw, s.deltas, s.delta_rows
    )
    assert book.keep_raw
    assert_arb_final(book, s)


def test_apply_ccxt_orderbook(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "apply: 20k updates"
    s = book_stream
    ob = _run_apply(benchmark, s, lambda: ccxt_book(s), apply_ccxt, s.deltas_float)
    assert_ccxt_final(ob, s)


def test_apply_dict_floor(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "apply: 20k updates"
    s = book_stream
    bids, asks = _run_apply(benchmark, s, lambda: dict_book(s), apply_dict, s.deltas)
    assert bids == s.final_bids
    assert asks == s.final_asks


# -- reads on the final book --------------------------------------------------------------


def _walk_qty(s: BookStream, levels: int = 10) -> int:
    # A buy size that takes the best ``levels - 1`` asks and part of the next one.
    top = s.final_top(False, levels)
    return sum(q for _, q in top[:-1]) + top[-1][1] // 2


def test_walk_arb(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "walk: buy across ~10 ask levels"
    s = book_stream
    book = arb_book(s)
    apply_arb(book, s.deltas)
    qty = _walk_qty(s)
    w = benchmark(book.walk, Side.BUY, qty)
    assert (w.qty, w.notional, w.worst_px, w.levels) == naive_walk(s.final_asks, False, qty)
    assert w.levels == 10


def walk_ccxt(asks: list[list[float]], qty: float) -> tuple[float, float, float, int]:
    # What a ccxt-based sizer does: walk the float list.
    left, notional, worst, levels = qty, 0.0, 0.0, 0
    for px, sz in asks:
        if left <= 0:
            break
        take = sz if sz < left else left
        notional += px * take
        left -= take
        worst = px
        levels += 1
    return qty - left, notional, worst, levels


def test_walk_ccxt(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "walk: buy across ~10 ask levels"
    s = book_stream
    ob = ccxt_book(s)
    apply_ccxt(ob, s.deltas_float)
    qty = _walk_qty(s) / 10**QTY_PREC
    filled, _notional, worst, levels = benchmark(walk_ccxt, ob["asks"], qty)
    ref = naive_walk(s.final_asks, False, _walk_qty(s))
    assert levels == ref[3] == 10
    assert round(worst * 10**PX_PREC) == ref[2]
    assert abs(filled - qty) < 1e-9


def test_top10_arb(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "top: best 10 bids"
    s = book_stream
    book = arb_book(s)
    apply_arb(book, s.deltas)
    top = benchmark(book.top, Side.BUY, 10)
    assert top == s.final_top(True, 10)


def test_top10_ccxt(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "top: best 10 bids"
    s = book_stream
    ob = ccxt_book(s)
    apply_ccxt(ob, s.deltas_float)
    top = benchmark(ob["bids"].__getitem__, slice(0, 10))
    assert ccxt_levels(top) == s.final_top(True, 10)


def best_arb(book: LocalBook) -> tuple[Level | None, Level | None]:
    return book.best_bid(), book.best_ask()


def best_ccxt(ob: Any) -> tuple[list[float], list[float]]:
    return ob["bids"][0], ob["asks"][0]


def test_best_arb(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "best: bid and ask"
    s = book_stream
    book = arb_book(s)
    apply_arb(book, s.deltas)
    assert benchmark(best_arb, book) == (s.final_best_bid(), s.final_best_ask())


def test_best_ccxt(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "best: bid and ask"
    s = book_stream
    ob = ccxt_book(s)
    apply_ccxt(ob, s.deltas_float)
    bid, ask = benchmark(best_ccxt, ob)
    assert ccxt_levels([bid, ask]) == [s.final_best_bid(), s.final_best_ask()]

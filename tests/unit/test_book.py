"""LocalBook: unit cases and a stateful property test against a naive dict model."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import invariant
from hypothesis.stateful import rule

from arb.core.book import LocalBook
from arb.core.errors import InvariantViolation
from arb.core.types import Side


def make_book() -> LocalBook:
    b = LocalBook("v", "BTC-USDT")
    b.apply_snapshot([(100, 5), (99, 3), (97, 10)], [(101, 2), (102, 4), (105, 8)])
    return b


def test_snapshot_sets_best_bid_and_ask():
    b = make_book()
    assert b.best_bid() == (100, 5)
    assert b.best_ask() == (101, 2)
    assert len(b) == 6


def test_delta_with_size_zero_deletes_level():
    b = make_book()
    b.apply_deltas([(100, 0)], [(101, 0), (103, 1)])
    assert b.best_bid() == (99, 3)
    assert b.best_ask() == (102, 4)
    assert 103 in b.asks


def test_deleting_absent_level_is_harmless():
    b = make_book()
    b.apply_deltas([(50, 0)], [])
    assert len(b) == 6


def test_top_returns_best_first_per_side():
    b = make_book()
    assert b.top(Side.BUY, 2) == [(100, 5), (99, 3)]
    assert b.top(Side.SELL, 5) == [(101, 2), (102, 4), (105, 8)]


def test_walk_buy_consumes_asks_to_quantity():
    b = make_book()
    w = b.walk(Side.BUY, 5)
    assert (w.qty, w.notional, w.worst_px, w.levels) == (5, 101 * 2 + 102 * 3, 102, 2)
    assert w.vwap() == pytest.approx((101 * 2 + 102 * 3) / 5)


def test_walk_sell_stops_at_limit_price():
    b = make_book()
    w = b.walk(Side.SELL, 100, limit_px=99)
    assert (w.qty, w.notional, w.worst_px) == (8, 100 * 5 + 99 * 3, 99)


def test_walk_beyond_depth_returns_what_exists():
    b = make_book()
    w = b.walk(Side.BUY, 1_000)
    assert w.qty == 14
    assert w.worst_px == 105


def test_walk_to_price_returns_all_executable():
    b = make_book()
    assert b.walk_to_price(Side.BUY, 102).qty == 6
    assert b.walk_to_price(Side.SELL, 98).qty == 8
    assert b.walk_to_price(Side.BUY, 100).qty == 0


def test_walk_on_empty_side_is_empty():
    b = LocalBook("v", "X")
    w = b.walk(Side.BUY, 10)
    assert (w.qty, w.notional, w.worst_px, w.levels) == (0, 0, 0, 0)
    assert w.vwap() == 0.0


def test_crossed_book_is_detected_and_fails_check():
    b = make_book()
    assert not b.is_crossed()
    b.apply_deltas([(101, 1)], [])
    assert b.is_crossed()
    with pytest.raises(InvariantViolation, match="crossed"):
        b.check()


def test_raw_strings_follow_levels_for_checksums():
    b = LocalBook("okx", "BTC-USDT", keep_raw=True)
    b.apply_snapshot(
        [(5000, 110)],
        [(5001, 200), (5002, 300)],
        [["0.5000", "1.10"]],
        [["0.5001", "2"], ["0.5002", "3.000"]],
    )
    b.apply_deltas([], [(5001, 0)], [], [["0.5001", "0"]])
    assert b.raw_top(25) == ([("0.5000", "1.10")], [("0.5002", "3.000")])
    b.check()


@pytest.mark.parametrize("keep_raw", [False, True])
def test_one_delta_growing_a_side_past_twice_the_load_splits_it(keep_raw):
    b = LocalBook("v", "X", keep_raw=keep_raw)
    b.bid_prices._reset(4)
    b.ask_prices._reset(4)
    snap = [(p, 1) for p in range(1, 6)]
    raw = [[str(p), "1"] for p, _ in snap]
    b.apply_snapshot(
        snap, [(100, 1)], raw if keep_raw else None, [["100", "1"]] if keep_raw else None
    )
    assert len(b.bid_prices._lists) == 2  # filled by one sort, in sublists of the load
    b.apply_deltas([(1, 0), (2, 0)], [])  # merges back to one sublist
    assert len(b.bid_prices._lists) == 1
    new = [(p, 2) for p in range(10, 30)]
    b.apply_deltas(
        new, [], [[str(p), "2"] for p, _ in new] if keep_raw else None, [] if keep_raw else None
    )
    b.bid_prices._check()
    assert all(len(s) <= 8 for s in b.bid_prices._lists)
    assert list(b.bid_prices) == [3, 4, 5, *range(10, 30)]
    assert b.best_bid() == (29, 2)
    b.apply_deltas([(p, 0) for p in list(b.bid_prices)], [])
    b.bid_prices._check()
    assert b.best_bid() is None
    assert b.bid_prices._lists == []
    assert b.bid_prices._maxes == []
    b.apply_deltas([(7, 3)], [])
    assert b.best_bid() == (7, 3)
    b.check()


def test_index_built_by_a_positional_read_is_dropped_on_update():
    b = make_book()
    b.bid_prices._build_index()  # as a positional read on several sublists would
    assert b.bid_prices._index
    b.apply_deltas([(98, 1), (100, 0)], [])
    b.bid_prices._check()
    assert b.bid_prices[0] == 97
    assert b.bid_prices[-1] == 99
    assert b.bid_prices[1] == 98
    assert b.bids[98] == 1


def test_raw_top_without_keep_raw_is_a_bug():
    with pytest.raises(InvariantViolation):
        make_book().raw_top(5)


def test_delta_without_raw_strings_drops_raw_tracking():
    b = LocalBook("okx", "X", keep_raw=True)
    b.apply_snapshot([(1, 1)], [(2, 1)], [["1", "1"]], [["2", "1"]])
    b.apply_deltas([(1, 2)], [])
    assert not b.keep_raw


prices = st.integers(min_value=1, max_value=60)
sizes = st.integers(min_value=0, max_value=5)
levels = st.lists(st.tuples(prices, sizes), max_size=8)


class BookMachine(RuleBasedStateMachine):
    """Random snapshots and deltas; the book must equal a naive dict model at every step.

    ``LOAD`` is the SortedList load factor: the default keeps each side one sublist (the
    apply fast path); 4 makes several sublists, splits and merges (``_fill``, ``_apply_slow``
    and the switches between the paths).
    """

    KEEP_RAW = True
    LOAD: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.book = LocalBook("v", "X", keep_raw=self.KEEP_RAW)
        if self.LOAD is not None:
            self.book.bid_prices._reset(self.LOAD)
            self.book.ask_prices._reset(self.LOAD)
        self.maxes = self.book.bid_prices._maxes
        self.lists = self.book.ask_prices._lists
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    @staticmethod
    def _raw(lv):
        return [[str(p), str(q)] for p, q in lv]

    @rule(bids=levels, asks=levels)
    def snapshot(self, bids, asks):
        # keep the generated snapshot uncrossed: bids below 30, asks above 30
        bids = [(p % 30 + 1, q) for p, q in bids]
        asks = [(p % 30 + 31, q) for p, q in asks]
        if self.KEEP_RAW:
            self.book.apply_snapshot(bids, asks, self._raw(bids), self._raw(asks))
        else:
            self.book.apply_snapshot(bids, asks)
        self.bids, self.asks = {}, {}
        self._apply(bids, asks)

    @rule(bids=levels, asks=levels)
    def delta(self, bids, asks):
        bids = [(p % 30 + 1, q) for p, q in bids]
        asks = [(p % 30 + 31, q) for p, q in asks]
        if self.KEEP_RAW:
            self.book.apply_deltas(bids, asks, self._raw(bids), self._raw(asks))
        else:
            self.book.apply_deltas(bids, asks)
        self._apply(bids, asks)

    def _apply(self, bids, asks):
        # levels apply in order: a later size for the same price wins, size 0 deletes
        for model, lv in ((self.bids, bids), (self.asks, asks)):
            for p, q in lv:
                if q:
                    model[p] = q
                else:
                    model.pop(p, None)

    @rule(qty=st.integers(min_value=0, max_value=40))
    def walk_matches_model(self, qty):
        left, notional = qty, 0
        for p in sorted(self.asks):
            take = min(left, self.asks[p])
            notional += p * take
            left -= take
        w = self.book.walk(Side.BUY, qty)
        assert (w.qty, w.notional) == (qty - left, notional)

    @rule(qty=st.integers(min_value=0, max_value=40), limit=st.none() | prices)
    def sell_walk_matches_model(self, qty, limit):
        left, notional, worst, levels = qty, 0, 0, 0
        for p in sorted(self.bids, reverse=True):
            if left <= 0 or (limit is not None and p < limit):
                break
            take = min(left, self.bids[p])
            notional += p * take
            left -= take
            worst, levels = p, levels + 1
        w = self.book.walk(Side.SELL, qty, limit)
        assert (w.qty, w.notional, w.worst_px, w.levels) == (qty - left, notional, worst, levels)

    @invariant()
    def equals_model_and_holds_invariants(self):
        assert dict(self.book.bids) == self.bids
        assert dict(self.book.asks) == self.asks
        assert self.book.best_bid() == (max(self.bids.items()) if self.bids else None)
        assert self.book.best_ask() == (min(self.asks.items()) if self.asks else None)
        self.book.check()
        self.book.bid_prices._check()  # sortedcontainers' own invariants (sublists, maxes)
        self.book.ask_prices._check()
        assert list(self.book.bid_prices) == sorted(self.bids)
        assert list(self.book.ask_prices) == sorted(self.asks)
        assert list(self.book.iter_bids()) == sorted(self.bids.items(), reverse=True)
        assert list(self.book.iter_asks()) == sorted(self.asks.items())
        # The detector binds these lists once per book: they must never be replaced.
        assert self.book.bid_prices._maxes is self.maxes
        assert self.book.ask_prices._lists is self.lists
        for n in (0, 1, 3, 12):  # 12: more than one sublist of load 4 holds
            assert self.book.top(Side.BUY, n) == sorted(self.bids.items(), reverse=True)[:n]
            assert self.book.top(Side.SELL, n) == sorted(self.asks.items())[:n]
        if self.KEEP_RAW:
            nb = sorted(self.bids, reverse=True)[:25]
            assert [p for p, _ in self.book.raw_top(25)[0]] == [str(p) for p in nb]
            na = sorted(self.asks)[:25]
            assert [p for p, _ in self.book.raw_top(25)[1]] == [str(p) for p in na]


class IntBookMachine(BookMachine):
    KEEP_RAW = False


class SmallLoadBookMachine(BookMachine):
    LOAD = 4


class SmallLoadIntBookMachine(BookMachine):
    KEEP_RAW = False
    LOAD = 4


_machine_settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestBookMachine = BookMachine.TestCase
TestBookMachine.settings = _machine_settings
TestIntBookMachine = IntBookMachine.TestCase
TestIntBookMachine.settings = _machine_settings
TestSmallLoadBookMachine = SmallLoadBookMachine.TestCase
TestSmallLoadBookMachine.settings = _machine_settings
TestSmallLoadIntBookMachine = SmallLoadIntBookMachine.TestCase
TestSmallLoadIntBookMachine.settings = _machine_settings

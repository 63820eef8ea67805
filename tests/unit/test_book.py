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
    """Random snapshots and deltas; the book must equal a naive dict model at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.book = LocalBook("v", "X", keep_raw=True)
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
        self.book.apply_snapshot(bids, asks, self._raw(bids), self._raw(asks))
        self.bids, self.asks = {}, {}
        self._apply(bids, asks)

    @rule(bids=levels, asks=levels)
    def delta(self, bids, asks):
        bids = [(p % 30 + 1, q) for p, q in bids]
        asks = [(p % 30 + 31, q) for p, q in asks]
        self.book.apply_deltas(bids, asks, self._raw(bids), self._raw(asks))
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

    @invariant()
    def equals_model_and_holds_invariants(self):
        assert dict(self.book.bids) == self.bids
        assert dict(self.book.asks) == self.asks
        assert self.book.best_bid() == (max(self.bids.items()) if self.bids else None)
        assert self.book.best_ask() == (min(self.asks.items()) if self.asks else None)
        self.book.check()
        nb = sorted(self.bids, reverse=True)[:25]
        assert [p for p, _ in self.book.raw_top(25)[0]] == [str(p) for p in nb]


TestBookMachine = BookMachine.TestCase
TestBookMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)

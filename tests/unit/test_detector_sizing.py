"""Sizing helpers of the detector, and its edge cases: fine precisions, exact balance checks,
clock skew and id overflow."""

from __future__ import annotations

import pytest

from arb.core.book import LocalBook
from arb.core.detector import DetectorConfig
from arb.core.detector import SpatialDetector
from arb.core.detector import VenueParams
from arb.core.errors import InvariantViolation
from arb.core.money import AMOUNT_PRECISION
from arb.core.sizing import NO_CAP
from arb.core.sizing import WalkCaps
from arb.core.sizing import ceil_raw
from arb.core.sizing import common_lot
from arb.core.sizing import floor_raw
from arb.core.sizing import round_down
from arb.core.sizing import walk_cross
from tests.unit.test_detector import BINANCE
from tests.unit.test_detector import INSTRUMENTS
from tests.unit.test_detector import NOW
from tests.unit.test_detector import OKX
from tests.unit.test_detector import SYM
from tests.unit.test_detector import T0
from tests.unit.test_detector import config
from tests.unit.test_detector import planted
from tests.unit.test_detector import spot
from tests.unit.test_detector import sync_of
from tests.unit.test_detector import usdt

pytestmark = pytest.mark.unit


def test_rounding_helpers():
    assert floor_raw("1.239", 2) == 123
    assert ceil_raw("1.231", 2) == 124
    assert floor_raw("1.2", 3) == ceil_raw("1.2", 3) == 1200
    assert floor_raw("-1.239", 2) == -124  # floor, not truncation
    assert common_lot(1000, 1) == 1000
    assert common_lot(2, 3) == 6
    assert round_down(12_345_678, 1000) == 12_345_000


def walk(asks, bids, caps=None, *, buy_rate=1_000, sell_rate=1_000):
    buy_book, sell_book = LocalBook("a", SYM), LocalBook("b", SYM)
    buy_book.apply_snapshot([], list(asks.items()))
    sell_book.apply_snapshot(list(bids.items()), [])
    return walk_cross(
        buy_book,
        sell_book,
        ask_px_mul=1,
        ask_qty_mul=1,
        bid_px_mul=1,
        bid_qty_mul=1,
        buy_rate=buy_rate,
        sell_rate=sell_rate,
        caps=caps or WalkCaps(),
    )


def test_walk_cross_stops_where_the_next_unit_would_not_pay():
    w = walk({100: 5, 101: 5, 103: 5}, {104: 3, 102: 4, 100: 9})
    # 3 @ 100/104, 2 @ 100/102, 2 @ 101/102, then 101 vs 100: stop.
    assert (w.qty, w.cost, w.proceeds, w.limited_by) == (7, 702, 720, "profit")
    assert walk({}, {104: 3}).limited_by == "depth"
    assert walk({100: 1}, {}).qty == 0
    assert walk({100: 2}, {104: 3}).limited_by == "depth"
    assert walk({100: 5}, {104: 3}).limited_by == "depth"


def test_walk_cross_caps_name_what_bound():
    asks, bids = {100: 50}, {110: 50}
    assert walk(asks, bids, WalkCaps(max_qty=7)).qty == 7
    assert walk(asks, bids, WalkCaps(max_base=6)).limited_by == "base_balance"
    w = walk(asks, bids, WalkCaps(max_notional=1_000))  # proceeds bind first: 9 * 110 = 990
    assert (w.qty, w.limited_by) == (9, "max_notional")
    w = walk(asks, bids, WalkCaps(budget=1_205, budget_factor=2))  # cost * 2 <= 1205
    assert (w.qty, w.cost, w.limited_by) == (6, 600, "quote_balance")
    assert walk(asks, bids, WalkCaps(max_qty=0)).qty == 0
    assert WalkCaps().max_qty == NO_CAP


def tenth_power(decimals: int) -> str:
    """``10**-decimals`` as a decimal string (``tenth_power(3) == "0.001"``)."""
    return "0." + "0" * (decimals - 1) + "1"


def test_size_precision_finer_than_money():
    # Size decimals past AMOUNT_PRECISION: the base balance is scaled up, not truncated.
    a = spot("a", "0.01", tenth_power(AMOUNT_PRECISION + 2))
    b = spot("b", "0.01", tenth_power(AMOUNT_PRECISION + 2))
    assert a.size_precision > AMOUNT_PRECISION
    books = {
        a.key: sync_of(a, [("99.00", "1")], [("100.00", "1")]),
        b.key: sync_of(b, [("101.00", "1")], [("102.00", "1")]),
    }
    cfg = config(venues={}, default_venue=VenueParams(taker_fee_ppm=0))
    balances = {"a": {"USDT": usdt("1000")}, "b": {"ETH": 0, "BTC": usdt("0.25")}}
    opp = SpatialDetector(cfg, {a.key: a, b.key: b}).on_book_update("a", SYM, books, NOW, balances)
    assert opp is not None
    assert [leg.qty for leg in opp.legs] == [a.qty_to_raw("0.25"), b.qty_to_raw("0.25")]
    assert opp.expected_profit == usdt("0.25")


# An exact quote balance check that the walk's rational bound lets through: tick 1e-4 and lot
# 10**-(AMOUNT_PRECISION - 2) make notionals two decimals finer than AMOUNT_PRECISION, so the
# cost rounds up and cost + fee lands one unit of AMOUNT_PRECISION over. The raw sizes and
# amounts below are the same whatever AMOUNT_PRECISION is.
FINE_LOT = AMOUNT_PRECISION - 2
FINE_A = spot("a", "0.0001", tenth_power(FINE_LOT))
FINE_B = spot("b", "0.0001", tenth_power(FINE_LOT))


def fine_books(b_inst=FINE_B):
    return {
        FINE_A.key: sync_of(FINE_A, [("169.0000", "10")], [("169.5466", "10")]),
        b_inst.key: sync_of(b_inst, [("175.0000", "10")], [("176.0000", "10")]),
    }


def fine_config() -> DetectorConfig:
    return config(venues={}, default_venue=VenueParams(taker_fee_ppm=1_000), min_profit_quote="0")


def test_exact_balance_check_shrinks_the_size_by_a_lot():
    assert FINE_A.price_precision + FINE_A.size_precision == AMOUNT_PRECISION + 2
    bal = 740_375_351_892_929  # units of AMOUNT_PRECISION (7.4e-4 USDT at 18 decimals)
    det = SpatialDetector(fine_config(), {FINE_A.key: FINE_A, FINE_B.key: FINE_B})
    balances = {"a": {"USDT": bal}, "b": {"BTC": usdt("100")}}
    opp = det.on_book_update("a", SYM, fine_books(), NOW, balances)
    assert opp is not None
    buy = opp.legs[0]
    # The walk allowed 43_624_331_964 lots; with them, cost + fee is bal + 1. One lot less fits.
    assert opp.inputs["walk_qty"] == 43_624_331_964
    assert buy.qty == 43_624_331_963
    assert buy.expected_notional + buy.fee <= bal
    assert buy.expected_notional == 739_635_716_159_798  # ceil(1695466 * 43624331963 / 100)


def test_exact_balance_check_can_leave_no_size():
    # Lots 1 and 7 (at FINE_LOT decimals): the walk allows one common lot (7), which is one unit
    # of AMOUNT_PRECISION too dear: ceil(1695401 * 7 / 100) + fee 119 = 118_798.
    b7 = spot("b", "0.0001", "0." + "0" * (FINE_LOT - 1) + "7")
    insts = {FINE_A.key: FINE_A, b7.key: b7}
    books = {
        FINE_A.key: sync_of(FINE_A, [("169.0000", "10")], [("169.5401", "10")]),
        b7.key: sync_of(b7, [("175.0000", "7")], [("176.0000", "7")]),
    }
    det = SpatialDetector(fine_config(), insts)
    balances = {"a": {"USDT": 118_797}, "b": {"BTC": usdt("100")}}
    assert det.on_book_update("a", SYM, books, NOW, balances) is None
    assert det.last_refusal == "NO_BALANCE:a:USDT"
    assert "fits the USDT balance with fees" in det.last_refusal_detail


def test_a_book_received_after_now_has_age_zero():
    det = SpatialDetector(config(), INSTRUMENTS)
    opp = det.on_book_update("okx", SYM, planted(), T0 - 5_000_000)  # clocks 5 ms apart
    assert opp is not None
    assert (opp.inputs["buy_age_ms"], opp.inputs["sell_age_ms"]) == (0.0, 0.0)


def test_a_book_removed_from_the_mapping_is_unbound():
    det = SpatialDetector(config(), INSTRUMENTS)
    books = planted()
    assert det.on_book_update("okx", SYM, books, NOW) is not None
    del books[BINANCE.key]
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "NO_CROSS"
    del books[OKX.key]
    assert det.on_book_update("okx", SYM, books, NOW) is None


def test_id_overflow_fails_loudly():
    det = SpatialDetector(config(), INSTRUMENTS)
    det._counter = 99_999_999  # the next id has 9 counter digits: 24 characters
    opp = det.on_book_update("okx", SYM, planted(), NOW)
    assert opp is not None
    assert len(opp.id) == 24
    det._counter = 999_999_999
    with pytest.raises(InvariantViolation, match="longer than 24"):
        det.on_book_update("okx", SYM, planted(), NOW)

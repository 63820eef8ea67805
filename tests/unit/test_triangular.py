"""Triangular detector: cycles found from the instrument list, planted mispricings priced to the
last unit (both directions), lot rounding carried through the cycle, balances, minimum sizes,
and only the updated book's cycles evaluated.

One venue ``x`` (fees 10 bps, charged in the quote like the simulated venue, no haircut unless
said): BTC-USDT tick 0.1 / lot 0.00001, ETH-BTC tick 0.00001 / lot 0.001, ETH-USDT tick 0.01 /
lot 0.001. Money at AMOUNT_PRECISION (``amt("...")``).
"""

from __future__ import annotations

from typing import Any

import pytest

from arb.core.detector import VenueParams
from arb.core.instruments import Instrument
from arb.core.sync import BookSync
from arb.core.sync import SyncState
from arb.core.triangular import TriangularConfig
from arb.core.triangular import TriangularDetector
from arb.core.triangular import TriangularRefusal
from arb.core.triangular import find_cycles
from arb.core.types import Side
from tests.unit import markets
from tests.unit.markets import Rows
from tests.unit.markets import amt

pytestmark = pytest.mark.unit

V = "x"
T0 = 1_700_000_000_000_000_000
NOW = T0 + 1_000_000
FEE = 1_000  # ppm


def spot(symbol: str, tick: str, lot: str, venue: str = V, **kw: Any) -> Instrument:
    return markets.spot(symbol, tick, lot, venue, **kw)


BTC = spot("BTC-USDT", "0.1", "0.00001")
ETHBTC = spot("ETH-BTC", "0.00001", "0.001")
ETH = spot("ETH-USDT", "0.01", "0.001")
XRP = spot("XRP-EUR", "0.0001", "1")


def sync_of(inst: Instrument, bids: Rows, asks: Rows, ts: int = T0) -> BookSync:
    return markets.sync_of(inst, bids, asks, ts)


def detector(
    insts: list[Instrument] | None = None, **cfg: Any
) -> tuple[TriangularDetector, dict[tuple[str, str], Instrument]]:
    cfg.setdefault("min_profit_quote", "0.01")
    cfg.setdefault("haircut_sigmas", 0.0)
    m = {i.key: i for i in (insts or [BTC, ETHBTC, ETH, XRP])}
    return TriangularDetector(TriangularConfig(**cfg), m, {V: VenueParams(taker_fee_ppm=FEE)}), m


# Forward pays: USDT -> BTC (buy at 50000.0) -> ETH (buy at 0.05) -> USDT (sell at 2530.00).
FORWARD = {
    BTC.key: (BTC, [("49990.0", "1")], [("50000.0", "1")]),
    ETHBTC.key: (ETHBTC, [("0.04999", "2")], [("0.05000", "2")]),
    ETH.key: (ETH, [("2530.00", "2")], [("2531.00", "2")]),
}
# Reverse pays: USDT -> ETH (buy at 2470.00) -> BTC (sell at 0.05) -> USDT (sell at 49990.0).
REVERSE = {
    BTC.key: (BTC, [("49990.0", "1")], [("50000.0", "1")]),
    ETHBTC.key: (ETHBTC, [("0.05000", "2")], [("0.05001", "2")]),
    ETH.key: (ETH, [("2469.00", "2")], [("2470.00", "2")]),
}


def books_of(spec: dict[tuple[str, str], tuple[Instrument, Rows, Rows]]) -> dict[Any, BookSync]:
    return {k: sync_of(i, b, a) for k, (i, b, a) in spec.items()}


# -- discovery ----------------------------------------------------------------------------


def test_cycles_are_found_from_the_instrument_list_in_both_directions():
    det, _ = detector()
    assert [c.name for c in det.cycles] == ["USDT>BTC>ETH>USDT", "USDT>ETH>BTC>USDT"]
    fwd, rev = det.cycles
    assert [s.key[1] for s in fwd.steps] == ["BTC-USDT", "ETH-BTC", "ETH-USDT"]
    assert [s.side for s in fwd.steps] == [Side.BUY, Side.BUY, Side.SELL]
    assert [s.key[1] for s in rev.steps] == ["ETH-USDT", "ETH-BTC", "BTC-USDT"]
    assert [s.side for s in rev.steps] == [Side.BUY, Side.SELL, Side.SELL]
    assert (V, "XRP-EUR") not in det.by_book  # the unrelated pair is in no cycle
    assert {k: len(v) for k, v in det.by_book.items()} == {
        BTC.key: 2,
        ETHBTC.key: 2,
        ETH.key: 2,
    }


def test_the_middle_pair_may_be_listed_either_way_round():
    btceth = spot("BTC-ETH", "0.001", "0.0001")
    cycles = find_cycles([BTC, btceth, ETH], "USDT", {})
    fwd = next(c for c in cycles if c.name == "USDT>BTC>ETH>USDT")
    assert [s.side for s in fwd.steps] == [Side.BUY, Side.SELL, Side.SELL]


def test_only_configured_venues_and_one_venue_per_cycle():
    other = [spot(s, "0.1", "0.001", venue="y") for s in ("BTC-USDT", "ETH-BTC")]
    det, _ = detector([BTC, ETHBTC, ETH, *other])
    assert {c.venue for c in det.cycles} == {V}  # y has no ETH-USDT: no cycle there
    det, _ = detector([BTC, ETHBTC, ETH], venues=["y"])
    assert det.cycles == []


# -- planted mispricings ------------------------------------------------------------------


def test_forward_mispricing_is_found_with_its_hand_computed_profit():
    det, _ = detector(max_notional_quote="1000")
    opp = det.on_book_update(V, "ETH-BTC", books_of(FORWARD), NOW)
    assert opp is not None, det.last_refusal_detail
    assert opp.kind == "triangular"
    assert opp.symbol == "USDT>BTC>ETH>USDT"
    assert opp.quote == "USDT"
    l0, l1, l2 = opp.legs
    # leg 0: 1000 USDT buys at most 1000 / 1.001 / 50000 = 0.01998 BTC; leg 1: 0.01998 BTC
    # buys 0.01998 / 1.001 / 0.05 -> 0.399 ETH for 0.01995 + 0.00001995 BTC; leg 0 refitted
    # to the least lot that delivers it: 0.01997 BTC; leg 2 sells the 0.399 ETH.
    assert (l0.symbol, l0.side, l0.px, l0.qty) == ("BTC-USDT", Side.BUY, 500000, 1997)
    assert (l1.symbol, l1.side, l1.px, l1.qty) == ("ETH-BTC", Side.BUY, 5000, 399)
    assert (l2.symbol, l2.side, l2.px, l2.qty) == ("ETH-USDT", Side.SELL, 253000, 399)
    assert opp.inputs["home_in"] == amt("999.4985")  # 998.5 + 0.9985 fee
    assert opp.inputs["home_out"] == amt("1008.46053")  # 1009.47 - 1.00947 fee
    assert opp.inputs["residue_a"] == amt("0.00000005")  # BTC bought but not spent
    assert opp.inputs["residue_b"] == 0
    # the BTC residue at what leg 0 paid for it: 0.00000005 * 999.4985 / 0.01997
    assert opp.inputs["residue_value"] == amt("0.0025025")
    assert opp.expected_profit == amt("1008.46053") - amt("999.4985") + amt("0.0025025")
    assert opp.latency_haircut == 0
    # legs valued in USDT: BTC at the 50050 USDT leg 0 paid per BTC, fees included
    assert [leg.expected_notional for leg in opp.legs] == [
        amt("998.5"),
        amt("0.01995") * 50050,
        amt("1009.47"),
    ]
    assert [leg.fee for leg in opp.legs] == [
        amt("0.9985"),
        amt("0.00001995") * 50050,
        amt("1.00947"),
    ]
    assert opp.gross_profit == opp.expected_profit + opp.fees
    assert opp.inputs["limited_by"] == "max_notional"
    assert det.last_refusal == ""


def test_reverse_mispricing_is_found_with_its_hand_computed_profit():
    det, _ = detector(max_notional_quote="1000")
    opp = det.on_book_update(V, "ETH-USDT", books_of(REVERSE), NOW)
    assert opp is not None, det.last_refusal_detail
    assert opp.symbol == "USDT>ETH>BTC>USDT"
    l0, l1, l2 = opp.legs
    # leg 0: 1000 / 1.001 / 2470 -> 0.404 ETH (997.88 + 0.99788 USDT); leg 1 sells it for
    # 0.0202 - 0.0000202 BTC; leg 2 sells that, rounded to 0.02017 BTC, at 49990.0.
    assert (l0.symbol, l0.side, l0.px, l0.qty) == ("ETH-USDT", Side.BUY, 247000, 404)
    assert (l1.symbol, l1.side, l1.px, l1.qty) == ("ETH-BTC", Side.SELL, 5000, 404)
    assert (l2.symbol, l2.side, l2.px, l2.qty) == ("BTC-USDT", Side.SELL, 499900, 2017)
    home_in = amt("997.88") + amt("0.99788")
    home_out = amt("1008.2983") - amt("1.0082983")
    residue_b = amt("0.0201798") - amt("0.02017")
    residue_value = residue_b * home_out // amt("0.02017")  # at what leg 2 got per BTC
    assert opp.inputs["residue_a"] == 0
    assert opp.inputs["residue_b"] == residue_b
    assert opp.expected_profit == home_out - home_in + residue_value
    assert opp.expected_profit > amt("8.4")


def test_no_edge_and_fees_exceed_edge_are_told_apart():
    det, _ = detector()
    flat = {
        BTC.key: (BTC, [("49990.0", "1")], [("50000.0", "1")]),
        ETHBTC.key: (ETHBTC, [("0.04999", "2")], [("0.05000", "2")]),
        ETH.key: (ETH, [("2499.00", "2")], [("2500.00", "2")]),
    }
    assert det.on_book_update(V, "ETH-USDT", books_of(flat), NOW) is None
    assert det.last_refusal == TriangularRefusal.NO_EDGE
    # 2505 / 2500 = 20 bps before fees, 30 bps of fees
    flat[ETH.key] = (ETH, [("2505.00", "2")], [("2506.00", "2")])
    assert det.on_book_update(V, "ETH-USDT", books_of(flat), NOW) is None
    assert det.last_refusal == TriangularRefusal.FEES_EXCEED_EDGE


def test_a_deeper_walk_stops_where_the_cycle_no_longer_pays():
    # Only 0.1 ETH at 2530; the next bid (2490) does not pay: the size stops at 0.1 ETH.
    spec = dict(FORWARD)
    spec[ETH.key] = (ETH, [("2530.00", "0.1"), ("2490.00", "5")], [("2531.00", "2")])
    det, _ = detector(max_notional_quote="1000")
    opp = det.on_book_update(V, "ETH-USDT", books_of(spec), NOW)
    assert opp is not None
    assert opp.inputs["limited_by"] == "profit"
    assert opp.legs[2].qty == 100
    assert opp.legs[2].px == 253000


# -- rounding, minimums, balances ---------------------------------------------------------


def test_lot_rounding_that_kills_the_profit_is_refused_with_the_rounding_code():
    coarse = spot("ETH-BTC", "0.00001", "0.1")  # 0.1 ETH lots: 0.159 ETH rounds to 0.1
    det, _ = detector([BTC, coarse, ETH], max_notional_quote="400", min_profit_quote="3")
    spec = dict(FORWARD)
    spec[coarse.key] = (coarse, [("0.04999", "2")], [("0.05000", "2")])
    assert det.on_book_update(V, "ETH-BTC", books_of(spec), NOW) is None
    assert det.last_refusal == TriangularRefusal.ROUNDING_KILLS_PROFIT
    # the same cycle with a fine lot clears the 3 USDT threshold
    det, _ = detector(max_notional_quote="400", min_profit_quote="3")
    opp = det.on_book_update(V, "ETH-BTC", books_of(FORWARD), NOW)
    assert opp is not None
    assert opp.expected_profit > amt("3")


def test_a_leg_below_its_minimum_size_is_refused():
    big_min = spot("ETH-USDT", "0.01", "0.001", min_size="1")
    det, _ = detector([BTC, ETHBTC, big_min], max_notional_quote="1000")
    spec = dict(FORWARD)
    spec[big_min.key] = (big_min, [("2530.00", "2")], [("2531.00", "2")])
    assert det.on_book_update(V, "ETH-USDT", books_of(spec), NOW) is None
    assert det.last_refusal == TriangularRefusal.SIZE_BELOW_MIN


def test_the_home_balance_caps_the_cycle():
    det, _ = detector(max_notional_quote="1000")
    bal = {V: {"USDT": amt("300"), "BTC": amt("1"), "ETH": amt("1")}}
    opp = det.on_book_update(V, "ETH-BTC", books_of(FORWARD), NOW, bal)
    assert opp is not None
    assert opp.inputs["limited_by"] == "balance0"
    home_in = int(opp.inputs["home_in"])
    # within one ETH-BTC lot (0.001 ETH, about 2.5 USDT) of the 300 USDT held
    assert amt("297.5") < home_in <= amt("300")


def test_the_intermediate_balances_cap_the_legs_fired_at_once():
    det, _ = detector(max_notional_quote="1000")
    # leg 1 spends BTC the venue must already hold: 0.005 BTC caps the cycle near 250 USDT
    bal = {V: {"USDT": amt("5000"), "BTC": amt("0.005"), "ETH": amt("1")}}
    opp = det.on_book_update(V, "ETH-BTC", books_of(FORWARD), NOW, bal)
    assert opp is not None
    assert opp.inputs["limited_by"] == "balance1"
    assert amt("0.00495") < int(opp.inputs["leg1_spent"]) <= amt("0.005")
    # no ETH to sell on leg 2: refused on the ETH balance
    bal = {V: {"USDT": amt("5000"), "BTC": amt("1"), "ETH": 0}}
    assert det.on_book_update(V, "ETH-BTC", books_of(FORWARD), NOW, bal) is None
    assert det.last_refusal == f"{TriangularRefusal.NO_BALANCE}:{V}:ETH"


def test_stale_and_invalid_books_are_refused_with_their_codes():
    det, _ = detector(max_quote_age_ms=100)
    books = books_of(FORWARD)
    assert det.on_book_update(V, "ETH-BTC", books, T0 + 200_000_000) is None
    assert det.last_refusal.startswith(f"{TriangularRefusal.STALE_BOOK}:{V}:")
    books[ETH.key].invalidate("test")
    assert det.on_book_update(V, "ETH-BTC", books, NOW) is None
    # an invalidated book is cleared: no side to trade, so no edge on its cycles
    assert det.last_refusal == TriangularRefusal.NO_EDGE


def test_the_latency_haircut_is_charged_per_leg():
    det, _ = detector(max_notional_quote="1000", haircut_sigmas=2.0, vol_prior_per_sqrt_s=1e-3)
    opp = det.on_book_update(V, "ETH-BTC", books_of(FORWARD), NOW)
    assert opp is not None
    assert opp.latency_haircut > 0
    assert opp.latency_haircut == sum(opp.inputs[f"leg{i}_haircut"] for i in range(3))  # type: ignore[misc]
    assert opp.gross_profit == opp.expected_profit + opp.fees + opp.latency_haircut
    det0, _ = detector(max_notional_quote="1000")
    opp0 = det0.on_book_update(V, "ETH-BTC", books_of(FORWARD), NOW)
    assert opp0 is not None
    assert opp.expected_profit < opp0.expected_profit


# -- incremental evaluation ---------------------------------------------------------------


def test_only_the_cycles_of_the_updated_book_are_evaluated():
    sol_btc = spot("SOL-BTC", "0.0000001", "0.01")
    sol = spot("SOL-USDT", "0.001", "0.01")
    det, _ = detector([BTC, ETHBTC, ETH, sol_btc, sol, XRP])
    assert len(det.cycles) == 4
    books = books_of(FORWARD)
    books[sol_btc.key] = sync_of(sol_btc, [("0.0029999", "10")], [("0.0030000", "10")])
    books[sol.key] = sync_of(sol, [("149.990", "10")], [("150.000", "10")])
    det.on_book_update(V, "ETH-BTC", books, NOW)
    assert det.evaluated == 2  # the two ETH cycles only
    det.on_book_update(V, "SOL-USDT", books, NOW)
    assert det.evaluated == 4
    det.on_book_update(V, "BTC-USDT", books, NOW)
    assert det.evaluated == 8  # BTC-USDT is in all four
    assert det.on_book_update(V, "XRP-EUR", books, NOW) is None
    assert det.last_refusal == TriangularRefusal.NO_CYCLE
    assert det.evaluated == 8


def test_opportunity_ids_follow_the_detector_scheme():
    det, _ = detector(max_notional_quote="1000")
    books = books_of(FORWARD)
    a = det.on_book_update(V, "ETH-BTC", books, NOW)
    b = det.on_book_update(V, "ETH-BTC", books, NOW)
    assert a is not None
    assert b is not None
    assert (a.id, b.id) == (f"T{NOW // 1_000_000}N1", f"T{NOW // 1_000_000}N2")
    assert len(a.id) <= 24


def test_config_refuses_bad_values():
    with pytest.raises(ValueError, match="max_notional_quote"):
        TriangularConfig(max_notional_quote="0")
    with pytest.raises(ValueError, match="min_profit_quote"):
        TriangularConfig(min_profit_quote="abc")
    with pytest.raises(ValueError, match="quote"):
        TriangularConfig(quote="")


def test_an_unsynced_book_is_refused_with_the_book_invalid_code():
    det, _ = detector()
    books = books_of(FORWARD)
    books[ETH.key].state = SyncState.AWAITING_SNAPSHOT  # levels kept, but not to be read
    assert det.on_book_update(V, "ETH-BTC", books, NOW) is None
    assert det.last_refusal == f"{TriangularRefusal.BOOK_INVALID}:{V}:ETH-USDT"


def test_fees_taken_from_the_received_asset_are_carried_through_the_chain():
    det, _ = detector(max_notional_quote="1000", fee_in_received=[V])
    opp = det.on_book_update(V, "ETH-BTC", books_of(FORWARD), NOW)
    assert opp is not None
    # leg 0: 1000 USDT buys 0.02 BTC, of which 0.01998 arrive; leg 1: 0.399 ETH for 0.01995 BTC
    # (0.398601 ETH arrive); leg 0 refitted: 0.01997 BTC deliver 0.01995003 >= 0.01995;
    # leg 2 sells 0.398 ETH (lot 0.001) and keeps 0.000601 ETH.
    assert [leg.qty for leg in opp.legs] == [1997, 399, 398]
    assert opp.inputs["home_in"] == amt("998.5")
    assert opp.inputs["leg0_received"] == amt("0.01995003")
    assert opp.inputs["leg0_fee_asset"] == "BTC"
    assert opp.inputs["leg1_received"] == amt("0.398601")
    assert opp.inputs["residue_a"] == amt("0.00000003")
    assert opp.inputs["residue_b"] == amt("0.000601")
    assert opp.inputs["home_out"] == amt("1006.94") - amt("1.00694")

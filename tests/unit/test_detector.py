"""Spatial detector: planted crosses priced to the last unit, and every refusal by its code.

Instruments as the venues list them: OKX BTC-USDT tick 0.1 / lot 1e-8, Binance tick 0.01 / lot
1e-5 (so the common scale is 2 price decimals and 8 size decimals, and sizes are rounded to
1e-5). Money is checked at AMOUNT_PRECISION (1e-12 USDT) with ``usdt("...")``.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from sortedcontainers import SortedList

from arb.core.book import LocalBook
from arb.core.detector import DetectorConfig
from arb.core.detector import DetectorRefusal
from arb.core.detector import SpatialDetector
from arb.core.detector import SymbolLimits
from arb.core.detector import VenueParams
from arb.core.events import BookSnapshot
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.messages import client_order_id
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import to_raw
from arb.core.sequencing import NoSequenceRule
from arb.core.sync import BookSpec
from arb.core.sync import BookSync
from arb.core.sync import SyncState
from arb.core.types import Side

pytestmark = pytest.mark.unit

SYM = "BTC-USDT"
T0 = 1_700_000_000_000_000_000
NOW = T0 + 1_000_000  # 1 ms after the books were received
MS = 1_000_000


def usdt(s: str) -> int:
    return to_raw(s, AMOUNT_PRECISION)


def spot(venue: str, tick: str, lot: str, symbol: str = SYM, **kw: object) -> Instrument:
    base, quote = symbol.split("-")
    return Instrument.create(
        venue=venue,
        symbol=symbol,
        venue_symbol=symbol.replace("-", ""),
        kind=InstrumentKind.SPOT,
        base=base,
        quote=quote,
        tick_size=tick,
        lot_size=lot,
        **kw,
    )


OKX = spot("okx", "0.1", "0.00000001")
BINANCE = spot("binance", "0.01", "0.00001")
INSTRUMENTS = {OKX.key: OKX, BINANCE.key: BINANCE}

Rows = list[tuple[str, str]]


def sync_of(inst: Instrument, bids: Rows, asks: Rows, ts: int = T0) -> BookSync:
    sync = BookSpec(NoSequenceRule()).new_sync(inst.venue, inst.symbol)
    sync.on_snapshot(
        BookSnapshot(
            venue=inst.venue,
            symbol=inst.symbol,
            channel="books",
            ts_event=ts,
            ts_recv=ts,
            bids=[(inst.px_to_raw(p), inst.qty_to_raw(q)) for p, q in bids],
            asks=[(inst.px_to_raw(p), inst.qty_to_raw(q)) for p, q in asks],
        )
    )
    assert sync.valid
    return sync


def config(**kw: Any) -> DetectorConfig:
    base: dict[str, Any] = {
        "min_profit_quote": "0.01",
        "min_profit_bps": 0.0,
        "max_notional_quote": "1000000",
        "haircut_sigmas": 0.0,
        "venues": {
            "okx": VenueParams(taker_fee_ppm=1_000, order_latency_ms=50.0),
            "binance": VenueParams(taker_fee_ppm=1_000, order_latency_ms=30.0),
        },
    }
    base.update(kw)
    return DetectorConfig(**base)


# The planted cross: OKX asks are below Binance bids for 0.6 BTC after fees.
OKX_ASKS = [("30000.0", "0.3"), ("30001.0", "0.5"), ("30010.0", "1")]
OKX_BIDS = [("29999.0", "1")]
BN_BIDS = [("30100.00", "0.2"), ("30090.00", "0.4"), ("30000.00", "1")]
BN_ASKS = [("30100.10", "1")]


def planted(ts_bn: int = T0) -> dict[tuple[str, str], BookSync]:
    return {
        OKX.key: sync_of(OKX, OKX_BIDS, OKX_ASKS),
        BINANCE.key: sync_of(BINANCE, BN_BIDS, BN_ASKS, ts=ts_bn),
    }


# -- the planted cross, to the last unit ----------------------------------------------------


def test_planted_cross_is_priced_exactly():
    det = SpatialDetector(config(), INSTRUMENTS)
    opp = det.on_book_update("binance", SYM, planted(), NOW)
    assert opp is not None, det.last_refusal_detail
    # Two-book walk (fees 10 bps each; a level pays while bid*0.999 > ask*1.001):
    #   0.2 @ 30000.0 vs 30100   0.1 @ 30000.0 vs 30090   0.3 @ 30001.0 vs 30090
    #   then 30001.0 vs 30000.00: 29970 < 30031.001, stop. Size 0.6 (a multiple of 1e-5).
    buy, sell = opp.legs
    assert (buy.venue, buy.side, buy.px, buy.qty) == ("okx", Side.BUY, 300010, 60_000_000)
    assert (sell.venue, sell.side, sell.px, sell.qty) == ("binance", Side.SELL, 3009000, 60_000)
    assert buy.expected_notional == usdt("18000.3")  # 0.3*30000 + 0.3*30001
    assert sell.expected_notional == usdt("18056")  # 0.2*30100 + 0.4*30090
    assert buy.fee == usdt("18.0003")
    assert sell.fee == usdt("18.056")
    assert opp.gross_profit == usdt("55.7")
    assert opp.fees == usdt("36.0563")
    assert opp.latency_haircut == 0
    assert opp.expected_profit == usdt("19.6437")
    assert opp.expected_profit_bps == pytest.approx(19.6437 / 18000.3 * 1e4)
    assert (opp.kind, opp.symbol, opp.quote, opp.ts) == ("spatial", SYM, "USDT", NOW)
    assert opp.id == "S1700000000001N1"
    assert det.last_refusal == ""


def test_inputs_record_what_the_price_was_made_of():
    det = SpatialDetector(config(), INSTRUMENTS)
    opp = det.on_book_update("binance", SYM, planted(), NOW)
    assert opp is not None
    i = opp.inputs
    assert (i["buy_venue"], i["sell_venue"]) == ("okx", "binance")
    assert (i["buy_best_ask"], i["sell_best_bid"]) == (300000, 3010000)
    assert (i["buy_px_precision"], i["sell_px_precision"]) == (1, 2)
    assert (i["buy_age_ms"], i["sell_age_ms"]) == (1.0, 1.0)
    assert (i["buy_latency_ms"], i["sell_latency_ms"]) == (50.0, 30.0)
    assert (i["buy_fee_ppm"], i["sell_fee_ppm"]) == (1000, 1000)
    assert (i["buy_levels"], i["sell_levels"]) == (2, 2)
    assert (i["walk_qty"], i["qty_precision"], i["limited_by"]) == (60_000_000, 8, "profit")
    assert (i["buy_haircut"], i["sell_haircut"], i["haircut_sigmas"]) == (0, 0, 0.0)
    msgspec.json.encode(opp)  # journal-ready


def test_ids_are_deterministic_and_fit_client_order_ids():
    def run() -> list[str]:
        det = SpatialDetector(config(), INSTRUMENTS)
        books = planted()
        out = []
        for k in range(3):
            opp = det.on_book_update("okx", SYM, books, NOW + k * MS)
            assert opp is not None
            out.append(opp.id)
        return out

    ids = run()
    assert ids == run() == ["S1700000000001N1", "S1700000000002N2", "S1700000000003N3"]
    assert all(i.isalnum() and len(i) <= 24 for i in ids)
    longest = "S" + "9" * 13 + "N" + "9" * 9  # ms timestamp, 1e9 - 1 opportunities
    assert len(longest) == 24
    assert client_order_id(longest, 99, 99)


def test_both_directions():
    # Mirror image: Binance is cheap, OKX rich.
    books = {
        OKX.key: sync_of(OKX, [("30100.0", "0.2"), ("30090.0", "0.4")], [("30100.1", "1")]),
        BINANCE.key: sync_of(
            BINANCE, [("29999.00", "1")], [("30000.00", "0.3"), ("30001.00", "1")]
        ),
    }
    for updated in ("okx", "binance"):
        det = SpatialDetector(config(), INSTRUMENTS)
        opp = det.on_book_update(updated, SYM, books, NOW)
        assert opp is not None
        buy, sell = opp.legs
        assert (buy.venue, buy.px, buy.qty) == ("binance", 3000100, 60_000)
        assert (sell.venue, sell.px, sell.qty) == ("okx", 300900, 60_000_000)
        assert opp.expected_profit == usdt("19.6437")


# -- refusals -------------------------------------------------------------------------------


def test_no_cross_returns_after_the_tops():
    books = {
        OKX.key: sync_of(OKX, [("29999.0", "1")], [("30000.0", "1")]),
        BINANCE.key: sync_of(BINANCE, [("29999.50", "1")], [("30000.50", "1")]),
    }
    det = SpatialDetector(config(), INSTRUMENTS)
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == DetectorRefusal.NO_CROSS == "NO_CROSS"


def test_fees_kill_a_cross_at_the_tops():
    # 30000.0 vs 30005.00 crosses by 1.7 bps; the fees are 20 bps.
    books = {
        OKX.key: sync_of(OKX, [("29999.0", "1")], [("30000.0", "1")]),
        BINANCE.key: sync_of(BINANCE, [("30005.00", "1")], [("30006.00", "1")]),
    }
    det = SpatialDetector(config(), INSTRUMENTS)
    assert det.on_book_update("binance", SYM, books, NOW) is None
    assert det.last_refusal == "FEES_EXCEED_SPREAD"
    # Without fees the same books trade 1 BTC for 5 USDT.
    free = {"okx": VenueParams(taker_fee_ppm=0), "binance": VenueParams(taker_fee_ppm=0)}
    opp = SpatialDetector(config(venues=free), INSTRUMENTS).on_book_update(
        "binance", SYM, books, NOW
    )
    assert opp is not None
    assert opp.expected_profit == usdt("5")


def test_fees_kill_the_profit_of_a_thin_cross():
    # The tops pay fees, but only 0.0001 BTC of them: 0.0001 * (30100*0.999 - 30000*1.001).
    books = {
        OKX.key: sync_of(OKX, OKX_BIDS, [("30000.0", "0.0001"), ("30100.0", "1")]),
        BINANCE.key: sync_of(BINANCE, [("30100.00", "1")], BN_ASKS),
    }
    det = SpatialDetector(config(), INSTRUMENTS)
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "BELOW_MIN_PROFIT"  # 0.003990 < 0.01
    opp = SpatialDetector(config(min_profit_quote="0.003"), INSTRUMENTS).on_book_update(
        "okx", SYM, books, NOW
    )
    assert opp is not None
    assert opp.expected_profit == usdt("0.01") - usdt("0.00601")  # fees 0.003 + 0.00301


def test_min_profit_bps_refuses():
    det = SpatialDetector(config(min_profit_bps=11.0), INSTRUMENTS)  # the cross makes 10.9
    assert det.on_book_update("okx", SYM, planted(), NOW) is None
    assert det.last_refusal == "BELOW_MIN_PROFIT"


def test_haircut_is_charged_on_each_leg_and_can_kill_the_trade():
    sigma0 = 2e-4  # per sqrt(s); the prior holds exactly at the first observation
    cfg = config(haircut_sigmas=2.0, vol_prior_per_sqrt_s=sigma0)
    det = SpatialDetector(cfg, INSTRUMENTS)
    opp = det.on_book_update("binance", SYM, planted(), T0)  # quote age 0
    assert opp is not None
    for venue in ("okx", "binance"):
        vol = det.volatility(venue, SYM)
        assert vol is not None
        assert vol.sigma_per_sqrt_s(T0) == pytest.approx(sigma0, rel=1e-12)
    # h = 2 * sigma * sqrt(latency): okx 2e-4*2*sqrt(0.05) = 8.944e-5, binance 6.928e-5.
    vb, vs = det.volatility("okx", SYM), det.volatility("binance", SYM)
    assert vb is not None
    assert vs is not None
    h_buy = math.ceil(2.0 * vb.sigma_per_sqrt_s(T0) * math.sqrt(0.05) * 1e9)
    h_sell = math.ceil(2.0 * vs.sigma_per_sqrt_s(T0) * math.sqrt(0.03) * 1e9)
    assert (opp.inputs["buy_haircut_ppb"], opp.inputs["sell_haircut_ppb"]) == (h_buy, h_sell)
    assert h_buy == pytest.approx(89_443, abs=1)
    assert h_sell == pytest.approx(69_283, abs=1)
    # The haircut does not change the size here (each level still pays), only the profit.
    assert opp.legs[0].qty == 60_000_000
    hc = -(-usdt("18000.3") * h_buy // 10**9) + -(-usdt("18056") * h_sell // 10**9)
    assert opp.latency_haircut == hc
    assert opp.expected_profit == usdt("19.6437") - hc
    # A volatile market: the haircut is larger than what is left after fees.
    wild = SpatialDetector(config(haircut_sigmas=2.0, vol_prior_per_sqrt_s=0.05), INSTRUMENTS)
    assert wild.on_book_update("binance", SYM, planted(), T0) is None
    assert wild.last_refusal == "BELOW_MIN_PROFIT"
    assert "haircut" in wild.last_refusal_detail


def test_haircut_grows_with_quote_age():
    cfg = config(haircut_sigmas=1.0, vol_prior_per_sqrt_s=1e-4, max_quote_age_ms=1_000)
    fresh = SpatialDetector(cfg, INSTRUMENTS).on_book_update("okx", SYM, planted(), T0)
    aged = SpatialDetector(cfg, INSTRUMENTS).on_book_update("okx", SYM, planted(), T0 + 500 * MS)
    assert fresh is not None
    assert aged is not None
    assert aged.inputs["buy_age_ms"] == 500.0
    assert aged.latency_haircut > fresh.latency_haircut
    # sqrt(0.05 + 0.5) / sqrt(0.05) = 3.3: the prior barely decays in 0.5 s (half-life 60 s).
    h_aged, h_fresh = aged.inputs["buy_haircut_ppb"], fresh.inputs["buy_haircut_ppb"]
    assert isinstance(h_aged, int)
    assert isinstance(h_fresh, int)
    ratio = h_aged / h_fresh
    assert ratio == pytest.approx(math.sqrt(0.55 / 0.05), rel=1e-2)


def test_stale_book_is_refused():
    books = planted(ts_bn=NOW - 1_001 * MS)  # Binance received 1001 ms ago, limit 1000
    det = SpatialDetector(config(max_quote_age_ms=1_000), INSTRUMENTS)
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "STALE_BOOK:binance:BTC-USDT"
    assert "1001.000 ms" in det.last_refusal_detail
    books = planted(ts_bn=NOW - 1_000 * MS)  # exactly at the limit: fresh enough
    assert det.on_book_update("okx", SYM, books, NOW) is not None


def test_invalid_book_is_refused():
    books = planted()
    # A book whose sync lost its state but still holds levels (BookSync clears on invalidate,
    # so this is belt and braces): never read.
    books[BINANCE.key].state = SyncState.AWAITING_SNAPSHOT
    det = SpatialDetector(config(), INSTRUMENTS)
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "BOOK_INVALID:binance:BTC-USDT"
    # The normal way: invalidate clears the book, so nothing crosses at all.
    books = planted()
    books[BINANCE.key].invalidate("sequence gap")
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "NO_CROSS"


def test_missing_book_is_no_cross_and_unknown_book_no_pair():
    det = SpatialDetector(config(), INSTRUMENTS)
    books = planted()
    del books[BINANCE.key]
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "NO_CROSS"
    assert det.on_book_update("kraken", SYM, planted(), NOW) is None
    assert det.last_refusal == "NO_PAIR"
    assert det.on_book_update("binance", SYM, books, NOW) is None  # not in the mapping
    assert det.last_refusal == "NO_CROSS"


# -- size caps ------------------------------------------------------------------------------


def test_quote_balance_caps_the_buy_with_its_fee():
    balances = {"okx": {"USDT": usdt("10000")}, "binance": {"BTC": usdt("10")}}
    det = SpatialDetector(config(), INSTRUMENTS)
    opp = det.on_book_update("okx", SYM, planted(), NOW, balances)
    assert opp is not None
    # 0.3 @ 30000 costs 9009 with fee; 991 left buys 991 / (30001 * 1.001) = 0.032999233 more,
    # rounded down to the Binance lot: 0.33299 BTC.
    buy, sell = opp.legs
    assert (buy.qty, sell.qty) == (33_299_000, 33_299)
    assert buy.expected_notional == usdt("9989.73299")
    assert buy.expected_notional + buy.fee == usdt("9999.72272299") <= usdt("10000")
    assert sell.expected_notional == usdt("10021.6691")  # 0.2*30100 + 0.13299*30090
    assert opp.expected_profit == usdt("11.92470791")
    assert opp.inputs["limited_by"] == "quote_balance"


def test_base_balance_caps_the_sell():
    balances = {"okx": {"USDT": usdt("1000000")}, "binance": {"BTC": usdt("0.25")}}
    opp = SpatialDetector(config(), INSTRUMENTS).on_book_update(
        "okx", SYM, planted(), NOW, balances
    )
    assert opp is not None
    assert [leg.qty for leg in opp.legs] == [25_000_000, 25_000]
    assert opp.gross_profit == usdt("24.5")  # 0.2*30100 + 0.05*30090 - 0.25*30000
    assert opp.expected_profit == usdt("9.4755")
    assert opp.inputs["limited_by"] == "base_balance"


@pytest.mark.parametrize(
    ("balances", "code"),
    [
        ({"okx": {"USDT": 0}, "binance": {"BTC": usdt("1")}}, "NO_BALANCE:okx:USDT"),
        ({"okx": {"USDT": usdt("1000000")}}, "NO_BALANCE:binance:BTC"),
        ({"okx": {"USDT": usdt("0.3")}, "binance": {"BTC": usdt("1")}}, "NO_BALANCE:okx:USDT"),
    ],
)
def test_no_balance(balances, code):
    det = SpatialDetector(config(), INSTRUMENTS)
    assert det.on_book_update("okx", SYM, planted(), NOW, balances) is None
    assert det.last_refusal == code


def test_max_qty_and_max_notional_cap_the_size():
    opp = SpatialDetector(config(max_qty_base="0.25"), INSTRUMENTS).on_book_update(
        "okx", SYM, planted(), NOW
    )
    assert opp is not None
    assert opp.legs[0].qty == 25_000_000
    assert opp.inputs["limited_by"] == "max_qty"
    # Either leg's notional <= 7000: the sell leg binds (6020 + 980/30090 BTC more).
    opp = SpatialDetector(config(max_notional_quote="7000"), INSTRUMENTS).on_book_update(
        "okx", SYM, planted(), NOW
    )
    assert opp is not None
    assert opp.inputs["limited_by"] == "max_notional"
    assert [leg.qty for leg in opp.legs] == [23_256_000, 23_256]  # 0.2 + 0.03256
    assert opp.legs[1].expected_notional == usdt("6999.7304") <= usdt("7000")


def test_symbol_overrides_take_precedence():
    cfg = config(
        max_qty_base="0.25", symbols={SYM: SymbolLimits(max_qty_base="0.1", min_profit_quote="1")}
    )
    opp = SpatialDetector(cfg, INSTRUMENTS).on_book_update("okx", SYM, planted(), NOW)
    assert opp is not None
    assert opp.legs[0].qty == 10_000_000


# -- lots and minimums across venues --------------------------------------------------------


def test_size_is_rounded_down_to_both_lots():
    # 0.12345678 BTC crosses; Binance trades multiples of 0.00001: 0.12345 on both legs.
    books = {
        OKX.key: sync_of(OKX, OKX_BIDS, [("30000.0", "0.12345678"), ("30500.0", "1")]),
        BINANCE.key: sync_of(BINANCE, [("30100.00", "1")], BN_ASKS),
    }
    opp = SpatialDetector(config(), INSTRUMENTS).on_book_update("okx", SYM, books, NOW)
    assert opp is not None
    buy, sell = opp.legs
    assert (buy.qty, sell.qty) == (12_345_000, 12_345)
    assert opp.inputs["walk_qty"] == 12_345_678
    assert buy.expected_notional == usdt("3703.5")  # 0.12345 * 30000
    assert sell.expected_notional == usdt("3715.845")  # 0.12345 * 30100


def test_lot_of_both_venues_when_neither_divides_the_other():
    # Lots 0.0002 and 0.0003 on the same scale: sizes are multiples of 0.0006.
    a = spot("a", "0.01", "0.0002")
    b = spot("b", "0.01", "0.0003")
    books = {
        a.key: sync_of(a, [("99.00", "1")], [("100.00", "0.0019")]),
        b.key: sync_of(b, [("101.00", "1")], [("102.00", "1")]),
    }
    cfg = config(venues={}, default_venue=VenueParams(taker_fee_ppm=0), min_profit_quote="0")
    opp = SpatialDetector(cfg, {a.key: a, b.key: b}).on_book_update("a", SYM, books, NOW)
    assert opp is not None
    assert [leg.qty for leg in opp.legs] == [18, 18]  # 0.0018 = 3 x 0.0006
    assert opp.expected_profit == usdt("0.0018")


def test_min_size_refusal():
    bn = spot("binance", "0.01", "0.00001", min_size="0.001")
    books = {
        OKX.key: sync_of(OKX, OKX_BIDS, [("30000.0", "0.0005"), ("30500.0", "1")]),
        bn.key: sync_of(bn, [("30100.00", "1")], BN_ASKS),
    }
    det = SpatialDetector(config(min_profit_quote="0"), {OKX.key: OKX, bn.key: bn})
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "SIZE_BELOW_MIN"
    assert "limited by profit" in det.last_refusal_detail


def test_min_notional_refusal():
    bn = spot("binance", "0.01", "0.00001", min_notional="10")
    books = {
        OKX.key: sync_of(OKX, OKX_BIDS, [("30000.0", "0.0003"), ("30500.0", "1")]),
        bn.key: sync_of(bn, [("30100.00", "1")], BN_ASKS),
    }
    det = SpatialDetector(config(min_profit_quote="0"), {OKX.key: OKX, bn.key: bn})
    assert det.on_book_update("okx", SYM, books, NOW) is None  # 0.0003 * 30100 = 9.03 < 10
    assert det.last_refusal == "SIZE_BELOW_MIN"


# -- which pairs are evaluated --------------------------------------------------------------


def test_only_pairs_of_the_updated_book_are_evaluated():
    huobi = spot("huobi", "0.01", "0.000001")
    insts = {**INSTRUMENTS, huobi.key: huobi}
    books = {
        OKX.key: sync_of(OKX, [("29990.0", "1")], [("30200.0", "1")]),  # crosses nobody
        BINANCE.key: sync_of(BINANCE, BN_BIDS, BN_ASKS),
        huobi.key: sync_of(huobi, [("29980.00", "1")], [("30000.00", "0.6"), ("30300.00", "1")]),
    }
    det = SpatialDetector(config(), insts)
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "NO_CROSS"
    assert det.opportunities_emitted == 0
    opp = det.on_book_update("huobi", SYM, books, NOW)
    assert opp is not None
    assert [(leg.venue, leg.side) for leg in opp.legs] == [
        ("huobi", Side.BUY),
        ("binance", Side.SELL),
    ]
    assert det.pairs == sorted(
        (x.key, y.key) for x in insts.values() for y in insts.values() if x is not y
    )


def test_best_of_several_crossing_pairs_wins():
    huobi = spot("huobi", "0.01", "0.00001")
    insts = {**INSTRUMENTS, huobi.key: huobi}
    books = {**planted(), huobi.key: sync_of(huobi, [("30200.00", "0.6")], [("30300.00", "1")])}
    opp = SpatialDetector(config(), insts).on_book_update("okx", SYM, books, NOW)
    assert opp is not None
    # Selling 0.6 at 30200 on Huobi (83.5797) beats selling on Binance (19.6437).
    assert [leg.venue for leg in opp.legs] == ["okx", "huobi"]
    assert opp.expected_profit == usdt("83.5797")


def test_symbols_on_one_venue_and_non_spot_instruments_form_no_pair():
    perp = Instrument.create(
        venue="okx",
        symbol="BTC-USDT-PERP",
        venue_symbol="BTC-USDT-SWAP",
        kind=InstrumentKind.PERP,
        base="BTC",
        quote="USDT",
        tick_size="0.1",
        lot_size="1",
        contract_value="0.01",
    )
    eth = spot("okx", "0.01", "0.000001", symbol="ETH-USDT")
    det = SpatialDetector(config(), {**INSTRUMENTS, perp.key: perp, eth.key: eth})
    assert det.pairs == [(BINANCE.key, OKX.key), (OKX.key, BINANCE.key)]
    assert det.volatility("okx", "ETH-USDT") is None
    assert det.on_book_update("okx", "ETH-USDT", {}, NOW) is None
    assert det.last_refusal == "NO_PAIR"


# -- volatility feeding and the cached book views -------------------------------------------


def test_updates_feed_the_books_mid_to_its_volatility():
    det = SpatialDetector(config(), INSTRUMENTS)
    books = planted()
    det.on_book_update("okx", SYM, books, NOW)
    vol = det.volatility("okx", SYM)
    assert vol is not None
    assert vol.last_mid == 299990 + 300000  # raw bid + raw ask
    assert vol.last_ts == T0


def test_book_views_follow_the_books_in_place_and_rebind_to_a_new_sync():
    # The detector keeps sortedcontainers' internal lists of each book; they must stay the
    # same objects through LocalBook.clear / apply_snapshot and BookSync.invalidate.
    books = planted()
    sync = books[BINANCE.key]
    lists = (sync.book.bid_prices._maxes, sync.book.ask_prices._lists)
    det = SpatialDetector(config(), INSTRUMENTS)
    assert det.on_book_update("okx", SYM, books, NOW) is not None
    sync.invalidate("gap")
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "NO_CROSS"
    fresh = sync_of(BINANCE, BN_BIDS, BN_ASKS)
    sync.on_snapshot(
        BookSnapshot(
            venue="binance",
            symbol=SYM,
            channel="books",
            ts_event=T0,
            ts_recv=T0,
            bids=list(fresh.book.top(Side.BUY, 10)),
            asks=list(fresh.book.top(Side.SELL, 10)),
        )
    )
    assert sync.book.bid_prices._maxes is lists[0]
    assert sync.book.ask_prices._lists is lists[1]
    assert det.on_book_update("okx", SYM, books, NOW) is not None
    # A new BookSync object in the mapping is picked up.
    books[BINANCE.key] = sync_of(BINANCE, [("30000.00", "1")], BN_ASKS)
    assert det.on_book_update("okx", SYM, books, NOW) is None
    assert det.last_refusal == "NO_CROSS"


def test_local_book_keeps_its_sides():
    book = LocalBook("v", SYM)
    sides = (book.bids, book.asks, book.bid_prices, book.ask_prices)
    book.apply_snapshot([(1, 1)], [(2, 1)])
    book.clear()
    book.apply_deltas([(1, 1)], [(2, 0)])
    now = (book.bids, book.asks, book.bid_prices, book.ask_prices)
    assert all(a is b for a, b in zip(now, sides, strict=True))
    assert isinstance(book.bid_prices, SortedList)


# -- config ---------------------------------------------------------------------------------


def test_config_defaults_and_toml_shape():
    cfg = msgspec.convert(
        {
            "min_profit_quote": "0.50",
            "venues": {"okx": {"taker_fee_ppm": 800, "order_latency_ms": 12.5}},
            "symbols": {"ETH-BTC": {"max_notional_quote": "0.05"}},
        },
        DetectorConfig,
    )
    assert cfg.venue("okx") == VenueParams(taker_fee_ppm=800, order_latency_ms=12.5)
    assert cfg.venue("binance") == VenueParams()
    assert cfg.parsed_limits(None) == (usdt("0.5"), usdt("1000"), 1 << 127)
    assert cfg.parsed_limits("ETH-BTC", 8) == (usdt("0.5"), usdt("0.05"), 1 << 127)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"min_profit_qoute": "1"}, "unknown field `min_profit_qoute`"),
        ({"max_notional_quote": "0"}, "max_notional_quote: must be > 0"),
        ({"max_notional_quote": 1000.0}, "Expected `str`, got `float`"),
        ({"min_profit_quote": "-1"}, "min_profit_quote: must be >= 0"),
        ({"max_qty_base": "abc"}, "max_qty_base: 'abc' is not a decimal number"),
        ({"symbols": {"X-Y": {"max_qty_base": "0"}}}, "symbols.X-Y.max_qty_base: must be > 0"),
        ({"max_quote_age_ms": 0}, "max_quote_age_ms: must be >= 1"),
        ({"haircut_sigmas": -1.0}, "haircut_sigmas: must be >= 0"),
        ({"vol_halflife_ms": 0.0}, "vol_halflife_ms: must be > 0"),
        ({"venues": {"x": {"taker_fee_ppm": 200_000}}}, "taker_fee_ppm: 200000 is outside"),
        ({"venues": {"x": {"order_latency_ms": -1.0}}}, "order_latency_ms: must be >= 0"),
    ],
)
def test_config_errors_name_the_key(raw, message):
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(raw, DetectorConfig)


def test_mismatched_instruments_are_refused():
    weird = spot("binance", "0.01", "0.00001")
    with pytest.raises(ValueError, match="maps to"):
        SpatialDetector(config(), {("okx", SYM): weird, BINANCE.key: BINANCE})
    other_quote = Instrument.create(
        venue="kraken",
        symbol=SYM,
        venue_symbol="XBTUSDT",
        kind=InstrumentKind.SPOT,
        base="XBT",
        quote="USDT",
        tick_size="0.1",
        lot_size="0.0001",
    )
    with pytest.raises(ValueError, match="trades"):
        SpatialDetector(config(), {**INSTRUMENTS, other_quote.key: other_quote})
    with pytest.raises(ValueError, match="id_prefix"):
        SpatialDetector(config(), INSTRUMENTS, id_prefix="ABC")

"""Basis detector and positions: planted books priced by hand, refusals by code, and whole
trades (entry, two funding payments, exit) with the PnL checked to the cent.

Instruments as Binance lists them: spot BTC-USDT (tick 0.01, lot 1e-5, 10 bps taker), USD-M
BTC-USDT-PERP (linear, sizes in BTC, tick 0.1, lot 0.001, 5 bps), COIN-M BTC-USD-PERP (inverse,
100 USD a contract, tick 0.1, lot 1, 5 bps). Amounts at AMOUNT_PRECISION: ``amt("...")``.
Funding settles every 8 h; the next settlement is 1 h after T0, so a 24 h horizon holds three.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP
from decimal import Decimal
from fractions import Fraction
from typing import Any

import msgspec
import pytest

from arb.core.basis import BasisBook
from arb.core.basis import BasisConfig
from arb.core.basis import BasisDetector
from arb.core.basis import BasisDirection
from arb.core.basis import BasisFill
from arb.core.basis import BasisPair
from arb.core.basis import BasisPosition
from arb.core.basis import BasisRefusal
from arb.core.basis import PositionState
from arb.core.detector import VenueParams
from arb.core.events import FundingRate
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.opportunity import Opportunity
from arb.core.sync import BookSync
from arb.core.types import Side
from tests.unit import markets
from tests.unit.markets import BINANCE_SPOT as SPOT
from tests.unit.markets import COINM
from tests.unit.markets import OKX_BTC as OKX_SPOT
from tests.unit.markets import UNIT
from tests.unit.markets import USDM
from tests.unit.markets import Rows
from tests.unit.markets import amt
from tests.unit.markets import binance_spot as spot_inst
from tests.unit.markets import okx_swap

pytestmark = pytest.mark.unit

T0 = 1_722_000_000 * 1_000_000_000
MS = 1_000_000
HOUR = 3_600 * 1_000_000_000
DAY = 24 * HOUR
NOW = T0 + MS


def cents(amount: int) -> Decimal:
    return (Decimal(amount) / UNIT).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


OKX_SWAP = okx_swap(lot="1")
FUTURE = msgspec.structs.replace(
    USDM,
    symbol="BTC-USDT-20240827",
    venue_symbol="BTCUSDT_240827",
    kind=InstrumentKind.FUTURE,
    expiry_ns=T0 + 30 * DAY,
)
VENUES = {
    "binance": VenueParams(taker_fee_ppm=1_000, order_latency_ms=10.0),
    "binance-usdm": VenueParams(taker_fee_ppm=500, order_latency_ms=10.0),
    "binance-coinm": VenueParams(taker_fee_ppm=500, order_latency_ms=10.0),
    "okx": VenueParams(taker_fee_ppm=500, order_latency_ms=10.0),
}
PAIR_USDM = BasisPair(spot="binance:BTC-USDT", perp="binance-usdm:BTC-USDT-PERP")
PAIR_COINM = BasisPair(spot="binance:BTC-USDT", perp="binance-coinm:BTC-USD-PERP")
PAIR_FUTURE = BasisPair(spot="binance:BTC-USDT", perp="binance-usdm:BTC-USDT-20240827")
PAIR_OKX = BasisPair(spot="okx:BTC-USDT", perp="okx:BTC-USDT-PERP")
INSTRUMENTS = {i.key: i for i in (SPOT, USDM, COINM, FUTURE, OKX_SWAP, OKX_SPOT)}


def sync_of(inst: Instrument, bids: Rows, asks: Rows, ts: int = T0) -> BookSync:
    return markets.sync_of(inst, bids, asks, ts)


def config(*pairs: BasisPair, **kw: Any) -> BasisConfig:
    base: dict[str, Any] = {
        "pairs": list(pairs) or [PAIR_USDM],
        "min_entry_bps": 5.0,
        "max_notional_quote": "1000000",
        "min_profit_quote": "0.01",
        "haircut_sigmas": 0.0,
    }
    base.update(kw)
    return BasisConfig(**base)


def detector(*pairs: BasisPair, **kw: Any) -> BasisDetector:
    return BasisDetector(config(*pairs, **kw), INSTRUMENTS, VENUES)


def funding(inst: Instrument, rate_ppb: int) -> FundingRate:
    return FundingRate(
        venue=inst.venue,
        symbol=inst.symbol,
        rate_ppb=rate_ppb,
        funding_time_ns=T0 + HOUR,
        next_funding_time_ns=T0 + 9 * HOUR,
        ts_event=T0,
        ts_recv=T0,
    )


# Perp rich: spot ask 60000.00 (0.3 BTC), perp bid 60300.0 (0.2 BTC), 50 bps of basis.
RICH = {
    SPOT.key: (
        [("59990.00", "1")],
        [("60000.00", "0.3"), ("60010.00", "1")],
    ),
    USDM.key: (
        [("60300.0", "0.2"), ("60200.0", "1")],
        [("60310.0", "1")],
    ),
}


def books_of(rows: dict, ts: int = T0) -> dict[tuple[str, str], BookSync]:
    return {key: sync_of(INSTRUMENTS[key], b, a, ts) for key, (b, a) in rows.items()}


# -- detection ---------------------------------------------------------------------------------


def test_long_spot_when_the_perp_is_rich_priced_by_hand():
    det = detector()
    det.on_funding(funding(USDM, 100_000))  # +0.0001 per 8 h: the short perp receives
    opp = det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW)
    assert opp is not None, det.last_refusal_detail
    # Marginal test per BTC (rates): spot costs 10 bps in, 10 out, half spread 10/119990
    # (83,341 ppb) and min entry 5 bps -> 60000 * 1.002583341 = 60155.00; the perp at 60300
    # pays 5 + 5 bps, half spread 100/1206100 (82,912 ppb) and receives 3 * 1 bp of funding:
    # 60300 * (1 - 0.000782912) = 60252.79 > 60155.00. The next perp level (60200.0: 60152.87)
    # does not pay, so the size is the 0.2 BTC at 60300.0.
    spot_leg, perp_leg = opp.legs
    assert (spot_leg.venue, spot_leg.side, spot_leg.qty, spot_leg.px) == (
        "binance",
        Side.BUY,
        20_000,
        6_000_000,
    )
    assert (perp_leg.venue, perp_leg.side, perp_leg.qty, perp_leg.px) == (
        "binance-usdm",
        Side.SELL,
        200,
        603_000,
    )
    # Money: cost 0.2 * 60000 = 12000, proceeds 0.2 * 60300 = 12060, basis 60 USDT.
    # Fees: 12 + 6.03 in, the same out = 36.06. Half spreads: 12000 * 83341e-9 = 1.000092 and
    # 12060 * 82912e-9 = 0.99991872 -> 2.00001072. Funding: 12060 * 3 * 0.0001 = 3.618.
    # Expected: 60 - 2.00001072 + 3.618 - 36.06 = 25.55798928 (21.30 bps of 12000).
    assert spot_leg.expected_notional == amt("12000")
    assert perp_leg.expected_notional == amt("12060")
    assert (spot_leg.fee, perp_leg.fee) == (amt("12"), amt("6.03"))
    assert opp.kind == "basis"
    assert opp.fees == amt("36.06")
    assert opp.gross_profit == amt("61.61798928")
    assert opp.expected_profit == amt("25.55798928")
    assert opp.expected_profit_bps == pytest.approx(21.2983244)
    inputs = opp.inputs
    assert inputs["action"] == "open"
    assert inputs["direction"] == "long_spot"
    assert inputs["basis_ppb"] == 5_000_000  # 60300 / 60000 - 1 = 50 bps
    assert inputs["funding_expected"] == amt("3.618")
    assert inputs["funding_rate_ppb"] == 100_000
    assert inputs["horizon_ns"] == DAY
    assert inputs["hedge_mismatch_base"] == 0
    # Pending in the book: the pair is at its one position.
    assert det.book.active(PAIR_USDM.name) == 1
    assert det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW) is None
    assert det.last_refusal == BasisRefusal.MAX_POSITIONS


CHEAP = {
    SPOT.key: ([("60300.00", "0.5"), ("60100.00", "1")], [("60300.01", "1")]),
    USDM.key: ([("59999.9", "1")], [("60000.0", "0.4"), ("60200.0", "1")]),
}


def test_short_spot_when_the_perp_is_cheap_needs_base_to_sell():
    det = detector()
    det.on_funding(funding(USDM, -50_000))  # shorts pay: the long perp receives 3 * 0.5 bp
    balances = {
        "binance": {"BTC": amt("0.25"), "USDT": amt("0")},
        "binance-usdm": {"USDT": amt("1000000")},
    }
    opp = det.on_book_update("binance-usdm", "BTC-USDT-PERP", books_of(CHEAP), NOW, balances)
    assert opp is not None, det.last_refusal_detail
    spot_leg, perp_leg = opp.legs
    # Sell 0.25 BTC (the balance) at 60300.00, buy 0.25 perp at 60000.0.
    assert (spot_leg.side, spot_leg.qty, spot_leg.px) == (Side.SELL, 25_000, 6_030_000)
    assert (perp_leg.side, perp_leg.qty, perp_leg.px) == (Side.BUY, 250, 600_000)
    # basis 0.25 * 300 = 75; fees (15.075 + 7.5) * 2 = 45.15; half spreads
    # 15075 * ceil(0.01/120600.01 ppb = 83 ppb) + 15000 * ceil(0.1/119999.9 = 834 ppb);
    # funding 15000 * 3 * 0.00005 = 2.25.
    assert opp.inputs["direction"] == "short_spot"
    assert opp.inputs["funding_expected"] == amt("2.25")
    assert opp.fees == amt("45.15")
    spreads = -(-amt("15075") * 83 // 10**9) + -(-amt("15000") * 834 // 10**9)
    assert opp.inputs["half_spreads"] == spreads
    assert opp.expected_profit == amt("75") - spreads + amt("2.25") - amt("45.15")
    # Without base on the spot venue the spot cannot be sold.
    det = detector()
    det.on_funding(funding(USDM, -50_000))
    broke = {"binance": {"USDT": amt("1000000")}, "binance-usdm": {"USDT": amt("1000000")}}
    assert det.on_book_update("binance", "BTC-USDT", books_of(CHEAP), NOW, broke) is None
    assert det.last_refusal == "NO_BALANCE:binance:BTC"


def test_a_long_spot_needs_quote_on_the_spot_venue_and_margin_on_the_perp_venue():
    balances = {"binance": {"USDT": amt("6006")}, "binance-usdm": {"USDT": amt("100000")}}
    det = detector()
    det.on_funding(funding(USDM, 100_000))
    opp = det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW, balances)
    assert opp is not None
    # 6006 USDT pays 0.1 BTC at 60000 plus the 10 bps fee exactly.
    assert opp.legs[0].qty == 10_000
    assert opp.legs[0].expected_notional + opp.legs[0].fee == amt("6006")
    det = detector()
    det.on_funding(funding(USDM, 100_000))
    thin = {"binance": {"USDT": amt("100000")}, "binance-usdm": {"USDT": amt("10")}}
    assert det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW, thin) is None
    assert det.last_refusal == "NO_BALANCE:binance-usdm:USDT"


def test_refused_when_fees_and_exit_eat_the_basis():
    # 15 bps of basis against 30 bps of fees both ways.
    det = detector()
    det.on_funding(funding(USDM, 100_000))
    rows = {SPOT.key: RICH[SPOT.key], USDM.key: ([("60090.0", "1")], [("60100.0", "1")])}
    assert det.on_book_update("binance", "BTC-USDT", books_of(rows), NOW) is None
    assert det.last_refusal == BasisRefusal.BELOW_MIN_ENTRY


def test_refused_when_funding_kills_a_basis_that_fees_allow():
    # The RICH basis pays with +1 bp funding; at -10 bps per 8 h the short perp pays 30 bps.
    det = detector()
    det.on_funding(funding(USDM, -1_000_000))
    assert det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW) is None
    assert det.last_refusal == BasisRefusal.BELOW_MIN_ENTRY


def test_predicted_funding_prices_the_later_settlements():
    det = detector()
    # Current +1 bp for the next settlement, predicted -2 bp for the two after: 1 - 4 = -3 bp.
    det.on_funding(funding(USDM, 100_000), predicted_ppb=-200_000)
    assert det.funding_rate("binance-usdm", "BTC-USDT-PERP") == (100_000, -200_000)
    assert det.expected_funding_ppb("binance-usdm", "BTC-USDT-PERP", NOW, NOW + DAY) == -300_000
    opp = det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW)
    assert opp is not None
    # The short perp pays 3 bp: 12060 * 0.0003 = 3.618; expected
    # 60 - 2.00001072 - 3.618 - 36.06 = 18.32198928 USDT (15.27 bps).
    assert opp.inputs["funding_expected"] == -amt("3.618")
    assert opp.inputs["funding_predicted_ppb"] == -200_000
    assert opp.expected_profit == amt("18.32198928")


def test_no_funding_yet_is_refused_for_a_perp():
    det = detector()
    assert det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW) is None
    assert det.last_refusal == "NO_FUNDING:binance-usdm:BTC-USDT-PERP"
    det = detector(require_funding=False)
    assert det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW) is not None


def test_stale_and_invalid_books_are_refused():
    det = detector()
    det.on_funding(funding(USDM, 100_000))
    assert det.on_book_update("binance", "BTC-USDT", books_of(RICH), T0 + 2_000 * MS) is None
    assert det.last_refusal == "STALE_BOOK:binance:BTC-USDT"
    books = books_of(RICH)
    books[USDM.key].invalidate("test")
    assert det.on_book_update("binance", "BTC-USDT", books, NOW) is None
    assert det.last_refusal == "BOOK_INVALID:binance-usdm:BTC-USDT-PERP"
    assert det.on_book_update("okx", "ETH-USDT", books, NOW) is None
    assert det.last_refusal == BasisRefusal.NO_PAIR


def test_latency_haircut_is_charged_on_both_legs():
    det = detector(haircut_sigmas=2.0, vol_prior_per_sqrt_s=1e-4)
    det.on_funding(funding(USDM, 100_000))
    opp = det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW)
    assert opp is not None
    # h = 2 * 1e-4 * sqrt(0.010 s latency + 0.001 s age) = 2.0976e-5 per leg (20,977 ppb up),
    # charged on 12000 and 12060: 0.251724 + 0.25298262 = 0.50470662 USDT.
    h_ppb = math.ceil(2 * 1e-4 * math.sqrt(0.011) * 10**9)
    assert h_ppb == 20_977
    assert opp.latency_haircut == amt("0.50470662")
    assert opp.expected_profit == amt("25.55798928") - opp.latency_haircut


# -- lot rounding ------------------------------------------------------------------------------


def test_linear_sizes_are_a_whole_number_of_both_lots():
    # OKX swap: 0.01 BTC a contract (lot 1). The cap of 1000 USDT allows 0.0166 BTC -> 0.01.
    det = detector(PAIR_OKX, max_notional_quote="1000")
    det.on_funding(funding(OKX_SWAP, 100_000))
    rows = {
        OKX_SPOT.key: ([("59990.0", "1")], [("60000.0", "1")]),
        OKX_SWAP.key: ([("60300.0", "100")], [("60310.0", "100")]),
    }
    opp = det.on_book_update("okx", "BTC-USDT", books_of(rows), NOW)
    assert opp is not None
    assert opp.legs[0].qty == 1_000_000  # 0.01 BTC at 1e-8
    assert opp.legs[1].qty == 1  # one contract = 0.01 BTC
    # A cap below one contract's worth leaves no size that both lots can trade.
    det = detector(PAIR_OKX, max_notional_quote="500")
    det.on_funding(funding(OKX_SWAP, 100_000))
    assert det.on_book_update("okx", "BTC-USDT", books_of(rows), NOW) is None
    assert det.last_refusal == BasisRefusal.HEDGE_MISMATCH


def test_inverse_rounding_that_breaks_the_hedge_is_refused():
    # COIN-M against a spot whose lot is 0.001 BTC. Cap 250 USD at 60300: 0.004145 BTC ->
    # 2 contracts (200 USD = 0.0033167 BTC at 60300.0) -> nearest spot size 0.003 BTC: the
    # legs differ by 0.0003167 BTC, 10.6% of the spot leg > 10 bps.
    coarse = spot_inst(lot="0.001")
    instruments = {**INSTRUMENTS, coarse.key: coarse}
    det = BasisDetector(config(PAIR_COINM, max_notional_quote="250"), instruments, VENUES)
    det.on_funding(funding(COINM, 100_000))
    rows = {
        coarse.key: ([("59990.00", "1")], [("60000.00", "1")]),
        COINM.key: ([("60300.0", "1000")], [("60310.0", "1000")]),
    }
    books = {k: sync_of(instruments[k], b, a) for k, (b, a) in rows.items()}
    assert det.on_book_update("binance", "BTC-USDT", books, NOW) is None
    assert det.last_refusal == BasisRefusal.HEDGE_MISMATCH
    # With the 1e-5 lot: 0.0033167 -> 0.00332 BTC, 9.9 bps apart: within 10 bps.
    det = BasisDetector(config(PAIR_COINM, max_notional_quote="250"), INSTRUMENTS, VENUES)
    det.on_funding(funding(COINM, 100_000))
    books = books_of(rows)
    opp = det.on_book_update("binance", "BTC-USDT", books, NOW)
    assert opp is not None, det.last_refusal_detail
    assert (opp.legs[0].qty, opp.legs[1].qty) == (332, 2)
    # 2 * 100 / 60300 = 0.003316749585406301... BTC short against 0.00332 long.
    assert opp.inputs["hedge_mismatch_base"] == amt("0.003316749585406301") - amt("0.00332")


def test_inverse_entry_sizes_contracts_by_their_base():
    det = detector(PAIR_COINM)
    det.on_funding(funding(COINM, 100_000))
    rows = {
        SPOT.key: ([("59999.99", "1")], [("60000.00", "0.5"), ("60100.00", "10")]),
        COINM.key: ([("60200.0", "301"), ("59000.0", "1000")], [("60200.1", "1000")]),
    }
    opp = det.on_book_update("binance-coinm", "BTC-USD-PERP", books_of(rows), NOW)
    assert opp is not None, det.last_refusal_detail
    # 301 contracts * 100 USD / 60200.0 = 0.5 BTC exactly, against 0.5 BTC of spot.
    assert (opp.legs[0].qty, opp.legs[1].qty) == (50_000, 301)
    assert opp.legs[1].expected_notional == amt("30100")  # USD, at par with USDT
    assert opp.inputs["basis_amount"] == amt("100")
    assert opp.inputs["hedge_mismatch_base"] == 0


# -- dated futures -----------------------------------------------------------------------------


def test_dated_future_basis_is_annualised_and_the_horizon_cut_at_expiry():
    det = detector(PAIR_FUTURE, horizon_h=24.0 * 60)
    rows = {
        SPOT.key: ([("59999.99", "1")], [("60000.00", "1")]),
        FUTURE.key: ([("60300.0", "1")], [("60300.1", "1")]),
    }
    opp = det.on_book_update("binance", "BTC-USDT", books_of(rows), NOW)
    assert opp is not None, det.last_refusal_detail
    # 60300 / 60000 - 1 = 0.005 over the 30 days left (less 1 ms): 0.005 * 365 / 30 = 6.0833%.
    assert opp.inputs["horizon_ns"] == 30 * DAY - MS
    assert opp.inputs["annualised_basis_ppm"] == 60_833
    assert opp.inputs["expiry_ns"] == T0 + 30 * DAY
    assert "funding_rate_ppb" not in opp.inputs
    # No funding on a dated future: 50 bps - 30 bps of fees - half spreads.
    assert opp.inputs["funding_expected"] == 0
    # A yearly floor above what 30 days give: 300 - 180.3 of fees - 0.055089 of
    # half spreads = 119.644911 USDT, 19.94 bps net -> 242.6 bps a year.
    det = detector(PAIR_FUTURE, horizon_h=24.0 * 60, min_annualised_bps=300.0)
    assert det.on_book_update("binance", "BTC-USDT", books_of(rows), NOW) is None
    assert det.last_refusal == BasisRefusal.BELOW_MIN_PROFIT
    # Expired.
    assert det.on_book_update("binance", "BTC-USDT", books_of(rows), T0 + 30 * DAY) is None
    assert det.last_refusal == BasisRefusal.EXPIRED


# -- config ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"horizon_h": 0.0},
        {"max_positions": 0},
        {"max_notional_quote": "1e3"},
        {"min_profit_quote": "x"},
        {"min_entry_bps": 1e9},
        {"perp_margin_ppm": 0},
        {"pairs": [PAIR_USDM, PAIR_USDM]},
    ],
)
def test_bad_config_is_refused(kw):
    with pytest.raises((msgspec.ValidationError, ValueError)):
        msgspec.convert(
            {"pairs": [msgspec.to_builtins(PAIR_USDM)], **msgspec.to_builtins(kw)}, BasisConfig
        )


def test_bad_pairs_are_refused():
    with pytest.raises(ValueError, match="venue:SYMBOL"):
        BasisPair(spot="BTC-USDT", perp="binance-usdm:BTC-USDT-PERP")
    with pytest.raises(ValueError, match="no instrument"):
        detector(BasisPair(spot="binance:ETH-USDT", perp="binance-usdm:BTC-USDT-PERP"))
    with pytest.raises(ValueError, match="is not spot"):
        detector(BasisPair(spot="binance-usdm:BTC-USDT-PERP", perp="binance-usdm:BTC-USDT-PERP"))
    with pytest.raises(ValueError, match="not a perp"):
        detector(BasisPair(spot="binance:BTC-USDT", perp="okx:BTC-USDT"))


# -- whole trades: entry, two funding payments, exit --------------------------------------------


def fill(inst: Instrument, side: Side, px: str, qty: str, fee: str, fee_ccy: str) -> BasisFill:
    return BasisFill(
        venue=inst.venue,
        symbol=inst.symbol,
        side=side,
        px=inst.px_to_raw(px),
        qty=inst.qty_to_raw(qty),
        fee=amt(fee),
        fee_ccy=fee_ccy,
    )


def state_of(pos: BasisPosition) -> PositionState:
    return pos.state  # read through a call: mypy keeps no narrowing across book calls


def enter(det: BasisDetector, rows: dict) -> Opportunity:
    opp = det.on_book_update("binance", "BTC-USDT", books_of(rows), NOW)
    assert opp is not None, det.last_refusal_detail
    return opp


def test_linear_basis_trade_pnl_to_the_cent():
    det = detector(exit_bps=2.0)
    det.on_funding(funding(USDM, 100_000))
    opp = enter(
        det,
        {
            SPOT.key: ([("59999.99", "1")], [("60000.00", "0.5"), ("60100.00", "10")]),
            USDM.key: ([("60300.0", "0.5"), ("60000.0", "10")], [("60300.1", "1")]),
        },
    )
    assert (opp.legs[0].qty, opp.legs[1].qty) == (50_000, 500)
    book = det.book
    # Entry: buy 0.5 BTC at 60000.00 (fee 30 USDT), sell 0.5 perp at 60300.0 (fee 15.075).
    pos = book.open(
        opp.id,
        [
            fill(SPOT, Side.BUY, "60000.00", "0.5", "30", "USDT"),
            fill(USDM, Side.SELL, "60300.0", "0.5", "15.075", "USDT"),
        ],
        NOW + 50 * MS,
    )
    assert pos is not None
    assert (pos.spot_qty, pos.perp_qty, pos.direction) == (50_000, -500, BasisDirection.LONG_SPOT)
    assert pos.horizon_end_ns == NOW + DAY
    # Funding 1 at mark 60050.0, +0.0001: the short receives 0.5 * 60050 * 0.0001 = 3.0025.
    (p1,) = book.on_funding_settlement(USDM.key, USDM.px_to_raw("60050.0"), 100_000, T0 + HOUR)
    assert (p1.amount, p1.ccy, p1.amount_quote, p1.position) == (
        amt("3.0025"),
        "USDT",
        amt("3.0025"),
        -500,
    )
    assert book.on_funding_settlement(USDM.key, 600_500, 100_000, T0 + HOUR) == []  # once
    # Funding 2 at mark 60100.0, +0.00005: 0.5 * 60100 * 0.00005 = 1.5025.
    (p2,) = book.on_funding_settlement(USDM.key, USDM.px_to_raw("60100.0"), 50_000, T0 + 9 * HOUR)
    assert p2.amount == amt("1.5025")
    # Not converged yet: perp ask 60310.0 / spot bid 60000.00 is 5 bps above spot.
    waiting = books_of(
        {
            SPOT.key: ([("60000.00", "1")], [("60000.01", "1")]),
            USDM.key: ([("60300.0", "1")], [("60310.0", "1")]),
        },
        ts=T0 + 10 * HOUR,
    )
    assert book.exit_opportunity(pos, waiting, T0 + 10 * HOUR) is None
    assert book.last_refusal == "NOT_CONVERGED"
    # Converged: sell spot at 61000.00, buy the perp at 61010.0: 1.64 bps <= 2 bps.
    t_exit = T0 + 12 * HOUR
    converged = books_of(
        {
            SPOT.key: ([("61000.00", "1")], [("61000.01", "1")]),
            USDM.key: ([("61000.0", "1")], [("61010.0", "1")]),
        },
        ts=t_exit,
    )
    out = book.exit_opportunity(pos, converged, t_exit)
    assert out is not None
    assert out.inputs["action"] == "close"
    assert out.inputs["reason"] == "converged"
    assert out.inputs["position_id"] == pos.id
    assert [(leg.venue, leg.side, leg.qty, leg.px) for leg in out.legs] == [
        ("binance", Side.SELL, 50_000, 6_100_000),
        ("binance-usdm", Side.BUY, 500, 610_100),
    ]
    assert pos.state is PositionState.CLOSING
    assert book.exit_opportunity(pos, converged, t_exit) is None  # one exit at a time
    closed = book.close(
        pos.id,
        [
            fill(SPOT, Side.SELL, "61000.00", "0.5", "30.5", "USDT"),
            fill(USDM, Side.BUY, "61010.0", "0.5", "15.2525", "USDT"),
        ],
        t_exit + 50 * MS,
    )
    assert closed is not None
    # Spot: 0.5 * (61000 - 60000) = +500. Perp: 0.5 * (60300 - 61010) = -355.
    # Funding: 3.0025 + 1.5025 = 4.505. Fees: 30 + 15.075 + 30.5 + 15.2525 = 90.8275.
    # Realised: 500 - 355 + 4.505 - 90.8275 = 58.6775 USDT -> 58.68.
    assert closed.spot_pnl == amt("500")
    assert closed.perp_pnl == closed.perp_pnl_quote == -amt("355")
    assert closed.funding_quote == amt("4.505")
    assert closed.fees_quote == amt("90.8275")
    assert closed.realised == amt("58.6775")
    assert cents(closed.realised) == Decimal("58.68")
    assert state_of(pos) is PositionState.CLOSED
    assert book.open_positions() == []
    # The exit's own estimate agreed: 500 - 355 + 4.505 - (45.075 + 30.5 + 15.2525).
    assert out.expected_profit == amt("58.6775")


def test_inverse_basis_trade_pnl_to_the_cent():
    det = detector(PAIR_COINM, exit_bps=2.0, min_entry_bps=1.0)
    det.on_funding(funding(COINM, 100_000))
    opp = enter(
        det,
        {
            SPOT.key: ([("59999.99", "1")], [("60000.00", "0.5"), ("60100.00", "10")]),
            COINM.key: ([("60200.0", "301"), ("59000.0", "1000")], [("60200.1", "1000")]),
        },
    )
    book = det.book
    # Entry: buy 0.5 BTC at 60000.00 (fee 30 USDT); sell 301 contracts at 60200.0, i.e.
    # 30100 USD = 0.5 BTC, fee 5 bps = 0.00025 BTC (15.05 USD at 60200).
    pos = book.open(
        opp.id,
        [
            fill(SPOT, Side.BUY, "60000.00", "0.5", "30", "USDT"),
            fill(COINM, Side.SELL, "60200.0", "301", "0.00025", "BTC"),
        ],
        NOW + 50 * MS,
    )
    assert pos is not None
    assert (pos.spot_qty, pos.perp_qty) == (50_000, -301)
    # Funding 1 at mark 60150.0, +0.0001: the short receives 30100 / 60150 * 0.0001
    #   = 0.0000500415627597672485... BTC (rounded down), = 3.01 USD at the mark less dust.
    (p1,) = book.on_funding_settlement(COINM.key, COINM.px_to_raw("60150.0"), 100_000, T0 + HOUR)
    assert (p1.amount, p1.ccy) == (amt("0.000050041562759767"), "BTC")
    assert p1.amount_quote == amt("3.00999999999998505")  # 0.000050041562759767 * 60150
    assert cents(p1.amount_quote) == Decimal("3.01")
    # Funding 2 at mark 60250.0, -0.00002: shorts pay 30100 / 60250 * 0.00002
    #   = 0.000009991701244813278... BTC (rounded up as paid) = 0.602 USD.
    (p2,) = book.on_funding_settlement(
        COINM.key, COINM.px_to_raw("60250.0"), -20_000, T0 + 9 * HOUR
    )
    assert p2.amount == -amt("0.000009991701244814")
    assert cents(p2.amount_quote) == Decimal("-0.60")
    # Exit when converged: spot bid 61000.00, perp ask 61010.0 (1.64 bps <= 2).
    t_exit = T0 + 12 * HOUR
    converged = books_of(
        {
            SPOT.key: ([("61000.00", "1")], [("61000.01", "1")]),
            COINM.key: ([("61000.0", "1000")], [("61010.0", "1000")]),
        },
        ts=t_exit,
    )
    out = book.exit_opportunity(pos, converged, t_exit)
    assert out is not None
    assert [(leg.side, leg.qty, leg.px) for leg in out.legs] == [
        (Side.SELL, 50_000, 6_100_000),
        (Side.BUY, 301, 610_100),
    ]
    closed = book.close(
        pos.id,
        [
            fill(SPOT, Side.SELL, "61000.00", "0.5", "30.5", "USDT"),
            fill(COINM, Side.BUY, "61010.0", "301", "0.00024668", "BTC"),
        ],
        t_exit + 50 * MS,
    )
    assert closed is not None
    # Spot: +500 USDT.
    # Perp (short 301 from 60200.0 to 61010.0): 30100 * (1/61010 - 1/60200) BTC
    #   = -0.006638256023602688... BTC; at 61010.0: -30100 * 810 / 60200 = -405 USD.
    exact_perp = Fraction(30100, 61010) - Fraction(30100, 60200)
    assert abs(Fraction(closed.perp_pnl, UNIT) - exact_perp) < Fraction(2, UNIT)
    assert closed.perp_pnl_ccy == "BTC"
    assert closed.conversion_px == 610_100
    assert cents(closed.perp_pnl_quote) == Decimal("-405.00")
    # Funding: 3.01 - 0.602 = 2.408 USD. Fees: 30 + 0.00025 * 60200 (15.05) + 30.5
    #   + 0.00024668 * 61010 (15.0499468) = 90.5999468.
    assert closed.fees_quote == amt("90.5999468")
    assert cents(closed.funding_quote) == Decimal("2.41")
    # Realised: 500 - 405 + 2.408 - 90.5999468 = 6.8080532 -> 6.81 (less dust of 1e-13).
    exact = 500 + exact_perp * 61010 + Fraction(2408, 1000) - Fraction(905999468, 10**7)
    assert abs(Fraction(closed.realised, UNIT) - exact) < Fraction(1, 10**12)
    assert cents(closed.realised) == Decimal("6.81")


def test_exit_at_the_horizon_end_even_when_not_converged():
    det = detector()
    det.on_funding(funding(USDM, 100_000))
    opp = enter(det, RICH)
    pos = det.book.open(
        opp.id,
        [
            fill(SPOT, Side.BUY, "60000.00", "0.2", "12", "USDT"),
            fill(USDM, Side.SELL, "60300.0", "0.2", "6.03", "USDT"),
        ],
        NOW,
    )
    assert pos is not None
    end = pos.horizon_end_ns
    rows = {
        SPOT.key: ([("60000.00", "1")], [("60000.01", "1")]),
        USDM.key: ([("60300.0", "1")], [("60310.0", "1")]),
    }
    assert det.book.exit_opportunity(pos, books_of(rows, end - MS), end - MS) is None
    # Through the detector: the pair's book update offers the exit first.
    out = det.on_book_update("binance", "BTC-USDT", books_of(rows, end), end)
    assert out is not None
    assert out.inputs["reason"] == "horizon"
    assert pos.state is PositionState.CLOSING
    # The exit traded nothing: the position is open again and offered again.
    det.book.abandon_close(pos.id)
    assert state_of(pos) is PositionState.OPEN
    again = det.book.exit_opportunity(pos, books_of(rows, end), end)
    assert again is not None
    assert again.id != out.id
    # A partial exit leaves the rest open.
    left = det.book.close(pos.id, [fill(SPOT, Side.SELL, "60000.00", "0.2", "0", "USDT")], end)
    assert left is None
    assert (pos.spot_qty, pos.perp_qty, pos.state) == (0, -200, PositionState.OPEN)


def test_open_with_nothing_filled_forgets_the_entry():
    det = detector()
    det.on_funding(funding(USDM, 100_000))
    opp = enter(det, RICH)
    assert det.book.open(opp.id, [], NOW) is None
    assert det.book.active(PAIR_USDM.name) == 0
    second = det.on_book_update("binance", "BTC-USDT", books_of(RICH), NOW)
    assert second is not None
    det.book.abandon(second.id)
    assert det.book.active(PAIR_USDM.name) == 0


def test_a_book_can_be_shared_and_restored():
    book = BasisBook(config(), INSTRUMENTS, VENUES)
    det = BasisDetector(config(), INSTRUMENTS, VENUES, book=book)
    det.on_funding(funding(USDM, 100_000))
    opp = enter(det, RICH)
    pos = book.open(opp.id, [fill(SPOT, Side.BUY, "60000.00", "0.2", "12", "USDT")], NOW)
    assert pos is not None
    other = BasisBook(config(), INSTRUMENTS, VENUES)
    other.restore(msgspec.convert(msgspec.to_builtins(pos), type(pos)))
    assert [p.id for p in other.open_positions()] == [pos.id]


def test_a_size_that_the_walk_makes_too_dear_for_the_balance_is_shrunk():
    # 12000 USDT buys 0.2 BTC at the top, but the second 0.1 costs 60010.00: 12001 + 12.001
    # of fee > 12000. Shrunk to 0.2 * 12000 / 12013.001 = 0.19978, on the 0.001 common lot:
    # 0.199 BTC = 6000 + 0.099 * 60010 = 11940.99, + 11.94099 of fee <= 12000.
    det = detector()
    det.on_funding(funding(USDM, 100_000))
    rows = {
        SPOT.key: ([("59999.99", "1")], [("60000.00", "0.1"), ("60010.00", "1")]),
        USDM.key: ([("60300.0", "1")], [("60300.1", "1")]),
    }
    balances = {"binance": {"USDT": amt("12000")}, "binance-usdm": {"USDT": amt("100000")}}
    opp = det.on_book_update("binance", "BTC-USDT", books_of(rows), NOW, balances)
    assert opp is not None, det.last_refusal_detail
    spot_leg, perp_leg = opp.legs
    assert (spot_leg.qty, perp_leg.qty) == (19_900, 199)
    assert spot_leg.expected_notional == amt("11940.99")
    assert spot_leg.expected_notional + spot_leg.fee == amt("11952.93099")


def test_short_spot_position_closes_when_the_basis_comes_back():
    det = detector(exit_bps=2.0)
    det.on_funding(funding(USDM, -50_000))
    balances = {"binance": {"BTC": amt("0.25")}, "binance-usdm": {"USDT": amt("1000000")}}
    opp = det.on_book_update("binance-usdm", "BTC-USDT-PERP", books_of(CHEAP), NOW, balances)
    assert opp is not None
    book = det.book
    pos = book.open(
        opp.id,
        [
            fill(SPOT, Side.SELL, "60300.00", "0.25", "15.075", "USDT"),
            fill(USDM, Side.BUY, "60000.0", "0.25", "7.5", "USDT"),
        ],
        NOW,
    )
    assert pos is not None
    assert (pos.direction, pos.spot_qty, pos.perp_qty) == (BasisDirection.SHORT_SPOT, -25_000, 250)
    # Funding -0.00005 at mark 60000.0: shorts pay longs 0.25 * 60000 * 0.00005 = 0.75.
    (p1,) = book.on_funding_settlement(USDM.key, 600_000, -50_000, T0 + HOUR)
    assert p1.amount == amt("0.75")
    t = T0 + 2 * HOUR
    # Still 3 bps apart (perp bid 59982.0 against spot ask 60000.01): not yet.
    rows = {
        SPOT.key: ([("60000.00", "1")], [("60000.01", "1")]),
        USDM.key: ([("59982.0", "1")], [("59990.0", "1")]),
    }
    assert book.exit_opportunity(pos, books_of(rows, t), t) is None
    # Stale books are never traded on, nor books without the depth.
    rows[USDM.key] = ([("59999.0", "1")], [("60001.0", "1")])
    assert book.exit_opportunity(pos, books_of(rows, t), t + 2_000 * MS) is None
    assert book.last_refusal == "STALE_BOOK:binance:BTC-USDT"
    thin = {**rows, SPOT.key: ([("60000.00", "1")], [("60000.01", "0.1")])}
    assert book.exit_opportunity(pos, books_of(thin, t), t) is None
    assert book.last_refusal == "NO_DEPTH"
    # Perp bid 59999.0 against spot ask 60000.01: -1.68 bps >= -2 bps: buy spot back, sell perp.
    out = book.exit_opportunity(pos, books_of(rows, t), t)
    assert out is not None
    assert [(leg.side, leg.qty, leg.px) for leg in out.legs] == [
        (Side.BUY, 25_000, 6_000_001),
        (Side.SELL, 250, 599_990),
    ]
    closed = book.close(
        pos.id,
        [
            fill(SPOT, Side.BUY, "60000.01", "0.25", "15.0000025", "USDT"),
            fill(USDM, Side.SELL, "59999.0", "0.25", "7.499875", "USDT"),
        ],
        t,
    )
    assert closed is not None
    # Spot: 0.25 * (60300 - 60000.01) = 74.9975. Perp: 0.25 * (59999 - 60000) = -0.25.
    # Funding +0.75. Fees: 15.075 + 7.5 + 15.0000025 + 7.499875 = 45.0748775.
    # Realised: 74.9975 - 0.25 + 0.75 - 45.0748775 = 30.4226225 -> 30.42.
    assert (closed.spot_pnl, closed.perp_pnl) == (amt("74.9975"), -amt("0.25"))
    assert closed.realised == amt("30.4226225")
    assert cents(closed.realised) == Decimal("30.42")
    assert out.expected_profit == closed.realised


def test_the_venues_funding_is_split_among_the_positions_by_contracts():
    """Two positions on one perp: the venue's settled amount (not a recomputation) is booked,
    split 3:1 by contracts with the remainder on the last; a venue position that is not the
    strategy's alone is priced at the mark instead."""
    det = detector(exit_bps=2.0, max_positions=2)
    det.on_funding(funding(USDM, 100_000))
    rows = {
        SPOT.key: ([("59999.99", "1")], [("60000.00", "0.5"), ("60100.00", "10")]),
        USDM.key: ([("60300.0", "0.5"), ("60000.0", "10")], [("60300.1", "1")]),
    }
    book = det.book
    for qty, fee_s, fee_p in (("0.3", "18", "9.045"), ("0.1", "6", "3.015")):
        opp = enter(det, rows)
        book.open(
            opp.id,
            [
                fill(SPOT, Side.BUY, "60000.00", qty, fee_s, "USDT"),
                fill(USDM, Side.SELL, "60300.0", qty, fee_p, "USDT"),
            ],
            NOW,
        )
    a, b = book.open_positions()
    assert (a.perp_qty, b.perp_qty) == (-300, -100)
    # the venue credited the whole short (-400 contracts) 2.400000000000000001 USDT
    paid = amt("2.400000000000000001")
    p1, p2 = book.on_funding_settlement(
        USDM.key, USDM.px_to_raw("60000.0"), 100_000, T0 + HOUR, paid=(paid, -400)
    )
    assert (p1.amount, p2.amount) == (paid * 3 // 4, paid - paid * 3 // 4)
    assert p1.amount + p2.amount == paid
    assert a.funding_quote + b.funding_quote == paid
    # the venue's position is not the strategy's (another -100 contracts): priced at the mark
    q1, q2 = book.on_funding_settlement(
        USDM.key, USDM.px_to_raw("60000.0"), 100_000, T0 + 9 * HOUR, paid=(paid, -500)
    )
    assert (q1.amount, q2.amount) == (amt("1.8"), amt("0.6"))  # 0.3 and 0.1 BTC x 60000 x 1e-4

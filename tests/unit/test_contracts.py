"""Contract maths against hand-computed cases: linear and inverse, long and short, funding of
both signs. Amounts are at AMOUNT_PRECISION (18 decimals): ``amt("...")`` is exact."""

from __future__ import annotations

from fractions import Fraction

import msgspec
import pytest

from arb.core.contracts import Rounding
from arb.core.contracts import annualised_basis_ppm
from arb.core.contracts import base_amount
from arb.core.contracts import base_exposure
from arb.core.contracts import base_to_quote
from arb.core.contracts import basis_ppb
from arb.core.contracts import contract_value
from arb.core.contracts import funding_payment
from arb.core.contracts import hedge_contracts
from arb.core.contracts import pnl_currency
from arb.core.contracts import position_pnl
from arb.core.contracts import px_amount
from arb.core.contracts import quote_notional
from arb.core.contracts import quote_to_base
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import notional_amount
from tests.unit.markets import BINANCE_SPOT as SPOT
from tests.unit.markets import COINM
from tests.unit.markets import OKX_SWAP
from tests.unit.markets import USDM
from tests.unit.markets import amt

pytestmark = pytest.mark.unit

DAY_NS = 86_400 * 1_000_000_000


# COINM (inverse, 100 USD), USDM (linear, sizes in BTC), OKX_SWAP (ctVal 0.01 BTC, lot 0.01
# contracts) and SPOT (Binance BTC-USDT) from ``markets``.
# A dated COIN-M future expiring 30 days after T0.
T0 = 1_722_000_000 * 1_000_000_000
FUTURE = msgspec.structs.replace(
    COINM,
    symbol="BTC-USD-20240927",
    venue_symbol="BTCUSD_240927",
    kind=InstrumentKind.FUTURE,
    expiry_ns=T0 + 30 * DAY_NS,
)


def px(inst: Instrument, s: str) -> int:
    return inst.px_to_raw(s)


def qty(inst: Instrument, s: str) -> int:
    return inst.qty_to_raw(s)


# -- inverse (COIN-M, 100 USD per contract) -------------------------------------------------


def test_inverse_contract_value_and_currency():
    assert contract_value(COINM) == 100
    assert pnl_currency(COINM) == "BTC"
    assert pnl_currency(USDM) == "USDT"


def test_inverse_long_pnl_from_60000_to_61000():
    # 10 contracts * 100 USD * (1/60000 - 1/61000) = 1000 * 1000 / (60000 * 61000)
    #   = 1_000_000 / 3_660_000_000 = 0.000273224043715846994535... BTC, rounded down.
    pnl = position_pnl(COINM, qty(COINM, "10"), px(COINM, "60000"), px(COINM, "61000"))
    assert pnl == amt("0.000273224043715846")
    assert Fraction(pnl, 10**18) <= Fraction(1_000_000, 3_660_000_000) < Fraction(pnl + 1, 10**18)
    # In USD at the exit price: 0.000273224043715846 * 61000 = 16.666666666666606 (the linear
    # equivalent 1000/60000 BTC * 1000 USD = 16.67, less what the floor dropped).
    assert base_to_quote(COINM, pnl, px(COINM, "61000"), round_up=False) == amt(
        "16.666666666666606"
    )


def test_inverse_short_pnl_both_ways():
    # Short 10 from 60000 to 61000: -0.000273224043715846994... -> rounded down (more loss).
    pnl = position_pnl(COINM, -qty(COINM, "10"), px(COINM, "60000"), px(COINM, "61000"))
    assert pnl == -amt("0.000273224043715847")
    # Short 10 from 60000 to 59000: 1000 * (1/59000 - 1/60000) = 1_000_000 / 3_540_000_000
    #   = 0.000282485875706214689... BTC.
    pnl = position_pnl(COINM, -qty(COINM, "10"), px(COINM, "60000"), px(COINM, "59000"))
    assert pnl == amt("0.000282485875706214")


def test_inverse_notional_and_exposure():
    ten = qty(COINM, "10")
    # Quote notional: 10 * 100 = 1000 USD at any price.
    assert quote_notional(COINM, px(COINM, "60000"), ten, round_up=False) == amt("1000")
    assert quote_notional(COINM, px(COINM, "1"), ten, round_up=True) == amt("1000")
    # Base: 1000 / 60000 = 0.016666... BTC.
    p = px(COINM, "60000")
    assert base_amount(COINM, p, ten, round_up=False) == amt("0.016666666666666666")
    assert base_amount(COINM, p, ten, round_up=True) == amt("0.016666666666666667")
    assert base_exposure(COINM, -ten, p) == -amt("0.016666666666666666")
    assert base_exposure(COINM, -ten, p, round_up=True) == -amt("0.016666666666666667")


@pytest.mark.parametrize(
    ("position", "rate_ppb", "expected"),
    [
        # Long 10 at mark 60000, rate +0.0001: pays 1000/60000 * 0.0001 = 0.0000016666... BTC.
        (10, 100_000, "-0.000001666666666667"),
        # Short 10, same rate: receives it (rounded down).
        (-10, 100_000, "0.000001666666666666"),
        # Long 10, rate -0.00005: shorts pay longs 1000/60000 * 0.00005 = 0.000000833333... BTC.
        (10, -50_000, "0.000000833333333333"),
        (-10, -50_000, "-0.000000833333333334"),
    ],
)
def test_inverse_funding_both_signs(position, rate_ppb, expected):
    assert funding_payment(COINM, position, px(COINM, "60000"), rate_ppb) == amt(expected)


# -- linear (USD-M: sizes in BTC; OKX: 0.01 BTC per contract) ----------------------------------


def test_usdm_long_and_short_pnl():
    # 0.5 BTC * (61000 - 60000) = 500 USDT; short: -500.
    half = qty(USDM, "0.5")
    assert position_pnl(USDM, half, px(USDM, "60000"), px(USDM, "61000")) == amt("500")
    assert position_pnl(USDM, -half, px(USDM, "60000"), px(USDM, "61000")) == -amt("500")
    assert quote_notional(USDM, px(USDM, "60000"), half, round_up=False) == amt("30000")
    assert base_amount(USDM, px(USDM, "60000"), half, round_up=False) == amt("0.5")


def test_usdm_funding_both_signs():
    # 0.5 BTC at mark 60000 = 30000 USDT; rate 0.0001 -> 3 USDT from longs to shorts.
    half = qty(USDM, "0.5")
    mark = px(USDM, "60000")
    assert funding_payment(USDM, half, mark, 100_000) == -amt("3")
    assert funding_payment(USDM, -half, mark, 100_000) == amt("3")
    # rate -0.000123457 (-123457 ppb): 30000 * 0.000123457 = 3.70371 USDT from shorts to longs.
    assert funding_payment(USDM, half, mark, -123_457) == amt("3.70371")
    assert funding_payment(USDM, -half, mark, -123_457) == -amt("3.70371")


def test_okx_swap_contract_value_multiplies():
    # 150 contracts * 0.01 BTC = 1.5 BTC; long from 60000.5 to 59000.0: 1.5 * -1000.5 = -1500.75.
    n = qty(OKX_SWAP, "150")
    assert base_amount(OKX_SWAP, 0, n, round_up=False) == amt("1.5")
    assert quote_notional(OKX_SWAP, px(OKX_SWAP, "60000.5"), n, round_up=False) == amt("90000.75")
    entry, exit_ = px(OKX_SWAP, "60000.5"), px(OKX_SWAP, "59000.0")
    assert position_pnl(OKX_SWAP, n, entry, exit_) == -amt("1500.75")
    assert position_pnl(OKX_SWAP, -n, entry, exit_) == amt("1500.75")
    # Funding -0.00005 on a short of 1.5 BTC at mark 60000.5: shorts pay 90000.75 * 0.00005
    #   = 4.5000375 USDT.
    assert funding_payment(OKX_SWAP, -n, entry, -50_000) == -amt("4.5000375")
    assert funding_payment(OKX_SWAP, n, entry, -50_000) == amt("4.5000375")


def test_spot_notional_agrees_with_money():
    p, q = px(SPOT, "61234.56"), qty(SPOT, "0.12345")
    for up in (False, True):
        assert quote_notional(SPOT, p, q, round_up=up) == notional_amount(SPOT, p, q, round_up=up)
    assert px_amount(SPOT, p) == amt("61234.56")
    assert quote_to_base(SPOT, amt("61234.56"), p, round_up=False) == amt("1")


# -- hedging a base amount ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rounding", "okx", "coinm"),
    [
        # OKX: 1.23456 BTC / 0.01 = 123.456 contracts, lot 0.01 -> 123.45 / 123.46 / 123.46.
        # COIN-M: 0.01 BTC * 61234.5 = 612.345 USD / 100 = 6.12345 contracts -> 6 / 7 / 6.
        (Rounding.DOWN, "123.45", "6"),
        (Rounding.UP, "123.46", "7"),
        (Rounding.NEAREST, "123.46", "6"),
    ],
)
def test_hedge_contracts_rounds_to_the_lot_as_asked(rounding, okx, coinm):
    assert hedge_contracts(OKX_SWAP, amt("1.23456"), 0, rounding) == qty(OKX_SWAP, okx)
    got = hedge_contracts(COINM, amt("0.01"), px(COINM, "61234.5"), rounding)
    assert got == qty(COINM, coinm)


def test_hedge_contracts_exact_cases():
    # 0.5 BTC at 60000 = 30000 USD = 300 contracts; at 61000: 305; USD-M: 0.5 BTC = 0.500.
    assert hedge_contracts(COINM, amt("0.5"), px(COINM, "60000"), Rounding.DOWN) == 300
    assert hedge_contracts(COINM, amt("0.5"), px(COINM, "61000"), Rounding.UP) == 305
    assert hedge_contracts(USDM, amt("0.5"), 0, Rounding.NEAREST) == qty(USDM, "0.5")


def test_inverse_price_must_be_positive():
    with pytest.raises(ValueError, match="price must be > 0"):
        base_amount(COINM, 0, 10, round_up=False)


# -- basis -----------------------------------------------------------------------------------


def test_annualised_basis_of_a_dated_future():
    # F 62000 (tick 0.1), S 60000 (tick 0.01): F/S - 1 = 1/30 = 0.0333...; 30 days to expiry:
    #   (1/30) * 365/30 = 0.405555... -> 405555 ppm.
    f, s = px(FUTURE, "62000"), px(SPOT, "60000")
    assert basis_ppb(FUTURE, f, SPOT, s) == 33_333_333
    assert annualised_basis_ppm(FUTURE, f, SPOT, s, T0) == 405_555
    # Ten days later, same prices: (1/30) * 365/20 = 0.608333... -> 608333 ppm.
    assert annualised_basis_ppm(FUTURE, f, SPOT, s, T0 + 10 * DAY_NS) == 608_333
    # Backwardation: F 59000: (-1/60) * 365/30 = -0.202777... -> rounded down -202778 ppm.
    assert annualised_basis_ppm(FUTURE, px(FUTURE, "59000"), SPOT, s, T0) == -202_778


def test_annualised_basis_refuses_no_expiry():
    with pytest.raises(ValueError, match="no time to expiry"):
        annualised_basis_ppm(COINM, 600000, SPOT, 6000000, T0)
    with pytest.raises(ValueError, match="no time to expiry"):
        annualised_basis_ppm(FUTURE, 600000, SPOT, 6000000, FUTURE.expiry_ns)

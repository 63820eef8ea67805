import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.clock import ReplayClock
from arb.core.errors import InvariantViolation
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.messages import client_order_id
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import bps_to_ppm
from arb.core.money import fee_amount
from arb.core.money import notional_amount
from arb.core.numbers import to_raw


def inst(tick: str, lot: str, cv: str = "1") -> Instrument:
    return Instrument.create(
        venue="v",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=tick,
        lot_size=lot,
        contract_value=cv,
    )


def amount(s: str) -> int:
    """A money amount at AMOUNT_PRECISION, from its decimal text."""
    return to_raw(s, AMOUNT_PRECISION)


def test_notional_is_exact_at_amount_precision():
    # 0.5 BTC at 30243.5 USDT = 15121.75 USDT
    assert notional_amount(inst("0.1", "0.00000001"), 302435, 50_000_000, round_up=False) == amount(
        "15121.75"
    )


def test_notional_finer_than_amount_precision_rounds_by_side():
    fine = inst("0.0001", "0.000000000000000001")  # 4 + 18 = 22 decimals
    assert fine.price_precision + fine.size_precision > AMOUNT_PRECISION
    px, qty = 270_001, 1  # 27.0001 * 1e-18 = 0.0000000000000000270001
    assert notional_amount(fine, px, qty, round_up=False) == amount("0.000000000000000027")
    assert notional_amount(fine, px, qty, round_up=True) == amount("0.000000000000000027") + 1


def test_linear_contract_value_multiplies_size():
    c = inst("0.1", "1", cv="0.01")  # 0.01 BTC per contract
    assert notional_amount(c, 600000, 3, round_up=False) == amount("1800")


def test_fee_rounds_charges_up_and_rebates_toward_zero():
    assert bps_to_ppm(10) == 1000
    assert bps_to_ppm(7.5) == 750
    assert fee_amount(amount("1"), 1000) == amount("0.001")  # 0.1% of 1 USDT
    assert fee_amount(1, 1000) == 1  # a charge never rounds to nothing
    assert fee_amount(1, -200) == 0  # a rebate never rounds into money we did not get


@given(st.integers(min_value=0, max_value=10**20), st.integers(min_value=-10_000, max_value=10_000))
def test_fee_never_flatters(amount, ppm):
    fee = fee_amount(amount, ppm)
    assert fee * 1_000_000 >= amount * ppm
    assert fee * 1_000_000 - amount * ppm < 1_000_000


def test_client_order_ids_are_deterministic_and_okx_safe():
    assert client_order_id("o00000042", 1) == client_order_id("o00000042", 1)
    assert client_order_id("o00000042", 1) != client_order_id("o00000042", 1, attempt=1)
    with pytest.raises(ValueError, match="alphanumeric"):
        client_order_id("bad-id", 0)
    with pytest.raises(ValueError, match="32"):
        client_order_id("x" * 30, 0)


def test_replay_clock_never_goes_back():
    c = ReplayClock(5)
    c.advance_to(9)
    assert c.now_ns() == 9
    with pytest.raises(InvariantViolation):
        c.advance_to(8)

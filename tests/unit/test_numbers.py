from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.core.errors import PrecisionError
from arb.core.numbers import decimals_of
from arb.core.numbers import from_raw
from arb.core.numbers import raw_to_decimal
from arb.core.numbers import rescale
from arb.core.numbers import to_raw


@pytest.mark.parametrize(
    ("s", "prec", "raw"),
    [
        ("24670.90", 2, 2467090),
        ("61737.63000000", 2, 6173763),
        ("0.5", 4, 5000),
        ("100", 3, 100000),
        ("0.00000001", 8, 1),
        ("0", 2, 0),
        ("30243.5", 1, 302435),
    ],
)
def test_to_raw_scales_exactly(s, prec, raw):
    assert to_raw(s, prec) == raw


@pytest.mark.parametrize("s", ["0.123", "1.001"])
def test_to_raw_with_more_significant_decimals_raises_precision_error(s):
    with pytest.raises(PrecisionError, match="more than 2 decimals"):
        to_raw(s, 2)


@pytest.mark.parametrize(
    "s", ["abc", "1e-8", "", "1.2.3", "NaN", "1_000", " 5", "5 ", "+5", "\u0663", "--1", "-", "."]
)
def test_to_raw_of_non_decimal_raises_precision_error(s):
    with pytest.raises(PrecisionError):
        to_raw(s, 4)


@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_to_raw_round_trips_with_from_raw(d):
    s = f"{d:f}"
    raw = to_raw(s, 6)
    assert raw == int(d * 10**6)
    assert Decimal(from_raw(raw, 6)) == d
    assert raw_to_decimal(raw, 6) == d


def test_from_raw_formats_negative_and_zero_precision():
    assert from_raw(-150, 2) == "-1.50"
    assert from_raw(42, 0) == "42"


def test_decimals_of_ignores_trailing_zeros():
    assert decimals_of("0.5000") == 1
    assert decimals_of("61737.63000000") == 2
    assert decimals_of("100") == 0
    assert decimals_of("0.00000001") == 8


def test_rescale_refuses_to_drop_digits():
    assert rescale(123, 2, 4) == 12300
    assert rescale(12300, 4, 2) == 123
    with pytest.raises(PrecisionError):
        rescale(12301, 4, 2)


@pytest.mark.parametrize(("s", "raw"), [("-1.5", -15000), ("5.", 50000), (".5", 5000)])
def test_to_raw_takes_a_sign_and_a_bare_point(s, raw):
    assert to_raw(s, 4) == raw

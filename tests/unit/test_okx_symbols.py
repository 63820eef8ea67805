"""OKX symbol mapping: round trips, refusals, and a property test over every shape."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.core.instruments import InstrumentKind
from arb.core.instruments import parse_symbol
from venues.okx.symbols import from_venue_symbol
from venues.okx.symbols import to_venue_symbol

pytestmark = pytest.mark.unit

CASES = [
    ("BTC-USDT", "BTC-USDT"),
    ("1INCH-USDT", "1INCH-USDT"),
    ("BTC-USDT-PERP", "BTC-USDT-SWAP"),
    ("BTC-USD-PERP", "BTC-USD-SWAP"),
    ("UNI-USD-PERP", "UNI-USD-SWAP"),
    ("BTC-USD_UM-PERP", "BTC-USD_UM-SWAP"),
    ("BTC-USD-20220527", "BTC-USD-220527"),
    ("BTC-USDT-20250808", "BTC-USDT-250808"),
    ("BTC-USD-20220514-22000-C", "BTC-USD-220514-22000-C"),
    ("ETH-USD-20220930-8000-P", "ETH-USD-220930-8000-P"),
    ("DOGE-USD-20220930-0.125-C", "DOGE-USD-220930-0.125-C"),
]


@pytest.mark.parametrize(("symbol", "inst_id"), CASES)
def test_symbol_round_trip(symbol, inst_id):
    assert to_venue_symbol(symbol) == inst_id
    assert from_venue_symbol(inst_id) == symbol


@pytest.mark.parametrize(("symbol", "inst_id"), CASES)
def test_canonical_symbol_is_parsed_by_core(symbol, inst_id):
    base, quote, kind = parse_symbol(symbol)
    assert inst_id.startswith(f"{base}-{quote}")
    assert kind in InstrumentKind


@pytest.mark.parametrize(
    "symbol",
    [
        "BTCUSDT",
        "BTC",
        "BTC-USDT-SWAP",
        "BTC-USD-220527",
        "BTC-USD-19991231",
        "BTC-USD-20221327",
        "BTC-USD-20220500",
        "BTC-USD-20220514-22000",
        "BTC-USD-20220514-22000-X",
        "BTC-PERP",
        "btc-usdt",
        "BTC--USDT",
        "",
    ],
)
def test_to_venue_symbol_with_unknown_shape_raises_value_error(symbol):
    with pytest.raises(ValueError, match="symbol"):
        to_venue_symbol(symbol)


@pytest.mark.parametrize(
    "inst_id",
    [
        "BTCUSDT",
        "BTC-USDT-PERP",
        "BTC-USD-20220527",
        "BTC-USD-221327",
        "BTC-USD-SWAP-1",
        "BTC-USD-220514-22000-Q",
        "BTC-SWAP",
        "",
    ],
)
def test_from_venue_symbol_with_unknown_shape_raises_value_error(inst_id):
    with pytest.raises(ValueError, match=r"instId|symbol"):
        from_venue_symbol(inst_id)


_ccy = st.from_regex(r"[A-Z0-9]{1,6}(_UM)?", fullmatch=True).filter(
    lambda c: c not in ("PERP", "SWAP")
)
_date = st.dates().filter(lambda d: 2000 <= d.year <= 2099).map(lambda d: d.strftime("%Y%m%d"))
_strike = st.from_regex(r"[1-9][0-9]{0,5}(\.[0-9]{1,3})?", fullmatch=True)


@st.composite
def canonical_symbols(draw: st.DrawFn) -> str:
    pair = f"{draw(_ccy)}-{draw(_ccy)}"
    shape = draw(st.sampled_from(["spot", "perp", "future", "option"]))
    if shape == "spot":
        return pair
    if shape == "perp":
        return f"{pair}-PERP"
    if shape == "future":
        return f"{pair}-{draw(_date)}"
    return f"{pair}-{draw(_date)}-{draw(_strike)}-{draw(st.sampled_from('CP'))}"


@given(canonical_symbols())
def test_round_trip_property(symbol):
    inst_id = to_venue_symbol(symbol)
    assert from_venue_symbol(inst_id) == symbol
    assert to_venue_symbol(from_venue_symbol(inst_id)) == inst_id
    assert len(inst_id) <= len(symbol)

"""Binance symbol mapping and REST depth paths: round trips and refusals."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume
from hypothesis import given
from hypothesis import strategies as st

from arb.core.symbols import split_concatenated
from venues.binance.symbols import MARKETS
from venues.binance.symbols import coinm_contract_value
from venues.binance.symbols import from_venue_symbol
from venues.binance.symbols import parse_rest_depth_path
from venues.binance.symbols import rest_depth_path
from venues.binance.symbols import to_venue_symbol

pytestmark = pytest.mark.unit

CASES = [
    ("binance", "BTCUSDT", "BTC-USDT"),
    ("binance", "ETHBTC", "ETH-BTC"),
    ("binance", "1000SATSFDUSD", "1000SATS-FDUSD"),
    ("binance-usdm", "BTCUSDT", "BTC-USDT-PERP"),
    ("binance-usdm", "ETHUSDC", "ETH-USDC-PERP"),
    ("binance-usdm", "BTCUSDT_240927", "BTC-USDT-20240927"),
    ("binance-coinm", "BTCUSD_PERP", "BTC-USD-PERP"),
    ("binance-coinm", "BTCUSD_240927", "BTC-USD-20240927"),
    ("binance-coinm", "ETHUSD_241227", "ETH-USD-20241227"),
]


@pytest.mark.parametrize(("venue", "venue_symbol", "symbol"), CASES)
def test_symbol_round_trip(venue, venue_symbol, symbol):
    assert from_venue_symbol(venue, venue_symbol) == symbol
    assert to_venue_symbol(venue, symbol) == venue_symbol


def test_from_venue_symbol_accepts_stream_case():
    assert from_venue_symbol("binance-coinm", "btcusd_perp") == "BTC-USD-PERP"


@pytest.mark.parametrize(
    ("venue", "venue_symbol"),
    [
        ("binance", "BTCUSD_PERP"),
        ("binance", "BTCXYZ"),
        ("binance-coinm", "BTCUSD"),
        ("binance-coinm", "BTCUSD_2409"),
        ("binance-usdm", "BTCUSDT_PERP"),
        ("kraken", "BTCUSDT"),
    ],
)
def test_from_venue_symbol_with_wrong_shape_raises_value_error(venue, venue_symbol):
    with pytest.raises(ValueError, match=r"symbol|venue"):
        from_venue_symbol(venue, venue_symbol)


@pytest.mark.parametrize(
    ("venue", "symbol"),
    [
        ("binance", "BTC-USDT-PERP"),
        ("binance-usdm", "BTC-USDT"),
        ("binance-coinm", "BTC-USD"),
        ("binance-coinm", "BTC-USD-19990101"),
        ("binance-usdm", "BTC-USDT-2024092"),
        ("binance", "BTC"),
        ("binance", "-USDT"),
    ],
)
def test_to_venue_symbol_of_unlisted_symbol_raises_value_error(venue, symbol):
    with pytest.raises(ValueError, match="symbol"):
        to_venue_symbol(venue, symbol)


_bases = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=10)
_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)).map(
    lambda d: d.strftime("%Y%m%d")
)


@given(base=_bases, quote=st.sampled_from(["USDT", "USDC", "BTC", "FDUSD"]), date=_dates)
def test_round_trip_over_generated_bases(base, quote, date):
    # Concatenated symbols are ambiguous when the base itself ends like a quote ("AFD"+"USD").
    assume(split_concatenated(base + quote) == (base, quote))
    assume(split_concatenated(base + "USD") == (base, "USD"))
    cases = [
        ("binance", f"{base}-{quote}"),
        ("binance-usdm", f"{base}-{quote}-PERP"),
        ("binance-usdm", f"{base}-{quote}-{date}"),
        ("binance-coinm", f"{base}-USD-PERP"),
        ("binance-coinm", f"{base}-USD-{date}"),
    ]
    for venue, symbol in cases:
        venue_symbol = to_venue_symbol(venue, symbol)
        assert from_venue_symbol(venue, venue_symbol) == symbol
        assert to_venue_symbol(venue, from_venue_symbol(venue, venue_symbol)) == venue_symbol


def test_coinm_contract_value():
    assert coinm_contract_value("BTC") == "100"
    assert coinm_contract_value("btc") == "100"
    assert coinm_contract_value("ETH") == "10"


@pytest.mark.parametrize(
    ("venue", "venue_symbol", "path"),
    [
        ("binance", "BTCUSDT", "/api/v3/depth?symbol=BTCUSDT"),
        ("binance-usdm", "BTCUSDT", "/fapi/v1/depth?symbol=BTCUSDT"),
        ("binance-coinm", "BTCUSD_PERP", "/dapi/v1/depth?symbol=BTCUSD_PERP"),
    ],
)
def test_rest_depth_path_round_trip(venue, venue_symbol, path):
    assert rest_depth_path(venue, venue_symbol) == path
    assert parse_rest_depth_path(path) == (venue, venue_symbol)
    assert parse_rest_depth_path(path + "&limit=1000") == (venue, venue_symbol)


def test_parse_rest_depth_path_of_full_url_and_other_paths():
    url = "https://fapi.binance.com/fapi/v1/depth?limit=1000&symbol=btcusdt"
    assert parse_rest_depth_path(url) == ("binance-usdm", "BTCUSDT")
    assert parse_rest_depth_path("/api/v3/depth") == ("binance", "")
    assert parse_rest_depth_path("/api/v3/exchangeInfo") is None
    assert parse_rest_depth_path("ws0") is None


def test_markets_cover_every_depth_path():
    parsed = [parse_rest_depth_path(rest_depth_path(v, "BTCUSDT")) for v in MARKETS]
    assert parsed == [(v, "BTCUSDT") for v in MARKETS]


def test_package_exports_its_public_api():
    import venues.binance as pkg

    assert sorted(pkg.__all__) == sorted(n for n in pkg.__all__ if hasattr(pkg, n))
    assert {"BinanceCodec", "from_venue_symbol", "parse_exchange_info"} <= set(pkg.__all__)

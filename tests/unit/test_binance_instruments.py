"""Binance instruments from hand-made exchangeInfo payloads, and inferred instruments."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.core.errors import DecodeError
from arb.core.instruments import InstrumentKind
from venues.binance.instruments import inferred_instrument
from venues.binance.instruments import parse_exchange_info
from venues.binance.symbols import from_venue_symbol
from venues.binance.symbols import to_venue_symbol

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent.parent / "data" / "binance"


def _load(market: str, venue: str):
    body = (DATA / f"rest_exchange_info_{market}.json").read_bytes()
    return {i.venue_symbol: i for i in parse_exchange_info(body, venue)}


def test_parse_exchange_info_spot_takes_precision_from_significant_decimals():
    insts = _load("spot", "binance")
    btc = insts["BTCUSDT"]
    assert btc.symbol == "BTC-USDT"
    assert btc.kind is InstrumentKind.SPOT
    assert (btc.base, btc.quote) == ("BTC", "USDT")
    assert btc.tick_size == "0.01000000"
    assert (btc.price_precision, btc.size_precision) == (2, 5)
    assert (btc.tick_raw, btc.lot_raw) == (1, 1)
    assert btc.min_size == "0.00001000"
    assert btc.min_notional == "5.00000000"
    assert btc.px_to_raw("61737.63000000") == 6173763
    assert btc.contract_value == "1"
    assert not btc.inverse
    assert btc.source == "venue"
    eth = insts["ETHBTC"]
    assert (eth.symbol, eth.price_precision, eth.size_precision) == ("ETH-BTC", 5, 4)
    assert eth.min_notional == "0.00010000"  # old MIN_NOTIONAL filter
    jpy = insts["LINKJPY"]  # any status is kept; quote assets come from the payload
    assert (jpy.symbol, jpy.price_precision, jpy.size_precision) == ("LINK-JPY", 0, 2)
    assert jpy.min_notional == "0"


def test_parse_exchange_info_usdm_perpetual_and_quarterly():
    insts = _load("usdm", "binance-usdm")
    assert set(insts) == {"BTCUSDT", "BTCUSDT_240927"}  # contractType "" is skipped
    perp = insts["BTCUSDT"]
    assert perp.symbol == "BTC-USDT-PERP"
    assert perp.kind is InstrumentKind.PERP
    assert (perp.price_precision, perp.size_precision) == (1, 3)
    assert perp.min_size == "0.001"
    assert perp.min_notional == "100"
    assert perp.settle == "USDT"
    assert perp.expiry_ns == 0
    assert (perp.contract_value, perp.contract_value_ccy, perp.inverse) == ("1", "BTC", False)
    fut = insts["BTCUSDT_240927"]
    assert fut.symbol == "BTC-USDT-20240927"
    assert fut.kind is InstrumentKind.FUTURE
    assert fut.expiry_ns == 1727424000000 * 1_000_000
    assert fut.min_notional == "5"


def test_parse_exchange_info_coinm_is_inverse_with_contract_size():
    insts = _load("coinm", "binance-coinm")
    perp = insts["BTCUSD_PERP"]
    assert perp.symbol == "BTC-USD-PERP"
    assert perp.kind is InstrumentKind.PERP
    assert (perp.price_precision, perp.size_precision) == (1, 0)
    assert (perp.contract_value, perp.contract_value_ccy, perp.inverse) == ("100", "USD", True)
    assert perp.settle == "BTC"
    assert perp.min_notional == "0"
    fut = insts["ETHUSD_241227"]
    assert fut.symbol == "ETH-USD-20241227"
    assert fut.kind is InstrumentKind.FUTURE
    assert fut.contract_value == "10"
    assert fut.price_precision == 2
    assert fut.expiry_ns == 1735286400000 * 1_000_000


@pytest.mark.parametrize(
    ("market", "venue"),
    [("spot", "binance"), ("usdm", "binance-usdm"), ("coinm", "binance-coinm")],
)
def test_parsed_symbols_agree_with_symbol_mapping(market, venue):
    for inst in _load(market, venue).values():
        if inst.quote in ("USDT", "BTC", "USD"):
            assert from_venue_symbol(venue, inst.venue_symbol) == inst.symbol
        assert to_venue_symbol(venue, inst.symbol) == inst.venue_symbol


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"symbols":[{"symbol":"BTCUSDT"}]}'])
def test_parse_exchange_info_of_malformed_body_raises_decode_error(body):
    with pytest.raises(DecodeError, match="binance exchangeInfo"):
        parse_exchange_info(body, "binance")


def test_parse_exchange_info_of_unknown_venue_raises_value_error():
    with pytest.raises(ValueError, match="kraken"):
        parse_exchange_info(b'{"symbols":[]}', "kraken")


def test_inferred_spot_instrument():
    inst = inferred_instrument("binance", "btcusdt", 8, 8)
    assert (inst.symbol, inst.venue_symbol, inst.kind) == ("BTC-USDT", "BTCUSDT", "spot")
    assert (inst.tick_size, inst.lot_size) == ("0.00000001", "0.00000001")
    assert (inst.price_precision, inst.size_precision) == (8, 8)
    assert inst.source == "inferred"
    assert not inst.inverse


def test_inferred_usdm_instrument():
    inst = inferred_instrument("binance-usdm", "BTCUSDT", 2, 3)
    assert (inst.symbol, inst.kind, inst.settle) == ("BTC-USDT-PERP", "perp", "USDT")
    assert (inst.tick_size, inst.lot_size) == ("0.01", "0.001")
    assert (inst.contract_value, inst.inverse) == ("1", False)


def test_inferred_coinm_instruments_are_inverse():
    perp = inferred_instrument("binance-coinm", "BTCUSD_PERP", 1, 0)
    assert (perp.symbol, perp.tick_size, perp.lot_size) == ("BTC-USD-PERP", "0.1", "1")
    assert (perp.contract_value, perp.contract_value_ccy, perp.inverse) == ("100", "USD", True)
    assert perp.settle == "BTC"
    fut = inferred_instrument("binance-coinm", "ETHUSD_240927", 2, 0)
    assert (fut.symbol, fut.kind, fut.contract_value) == ("ETH-USD-20240927", "future", "10")
    assert fut.expiry_ns == 1727424000000 * 1_000_000  # 08:00 UTC delivery


def test_inferred_instrument_refuses_bad_input():
    with pytest.raises(ValueError, match="precisions"):
        inferred_instrument("binance", "BTCUSDT", -1, 8)
    with pytest.raises(ValueError, match="symbol"):
        inferred_instrument("binance", "BTCUSD_PERP", 2, 2)

"""OKX instrument metadata: hand-made envelope, errors, and the real 2022 REST responses."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from arb.core.errors import DecodeError
from arb.core.errors import VenueError
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from venues.okx.instruments import parse_instruments

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent.parent / "data" / "okx"
OKX_2022 = "okx-20220513"


def read_rest_instruments(path: Path) -> dict[str, Instrument]:
    """Instruments of every ``<url> -> <ts>: <body>`` line of a cryptofeed REST capture.

    Later responses replace earlier ones (the capture repeats them); the final
    ``configuration: {...}`` line is not a REST response and is skipped.
    """
    out: dict[str, Instrument] = {}
    with path.open("rb") as fh:
        for line in fh:
            head, sep, body = line.partition(b": ")
            if not sep or b" -> " not in head:
                continue
            for inst in parse_instruments(body):
                out[inst.venue_symbol] = inst
    return out


def _by_id() -> dict[str, Instrument]:
    return {
        i.venue_symbol: i for i in parse_instruments((DATA / "rest_instruments.json").read_bytes())
    }


def test_parse_instruments_maps_every_inst_type_and_skips_margin():
    insts = parse_instruments((DATA / "rest_instruments.json").read_bytes())
    assert [i.venue_symbol for i in insts] == [
        "BTC-USDT",
        "BTC-USDT-SWAP",
        "BTC-USD-SWAP",
        "BTC-USD-220527",
        "BTC-USD-220514-22000-C",
    ]
    assert {i.venue for i in insts} == {"okx"}
    assert [i.kind for i in insts] == [
        InstrumentKind.SPOT,
        InstrumentKind.PERP,
        InstrumentKind.PERP,
        InstrumentKind.FUTURE,
        InstrumentKind.OPTION,
    ]


def test_parse_instruments_spot_uses_base_and_quote_ccy():
    spot = _by_id()["BTC-USDT"]
    assert spot.symbol == "BTC-USDT"
    assert (spot.base, spot.quote, spot.settle) == ("BTC", "USDT", "")
    assert (spot.tick_size, spot.lot_size, spot.min_size) == ("0.1", "0.00000001", "0.00001")
    assert (spot.price_precision, spot.size_precision) == (1, 8)
    assert spot.contract_value == "1"
    assert not spot.inverse
    assert spot.expiry_ns == 0


def test_parse_instruments_linear_swap():
    swap = _by_id()["BTC-USDT-SWAP"]
    assert swap.symbol == "BTC-USDT-PERP"
    assert (swap.base, swap.quote, swap.settle) == ("BTC", "USDT", "USDT")
    assert (swap.contract_value, swap.contract_value_ccy) == ("0.01", "BTC")
    assert not swap.inverse
    assert swap.size_precision == 2


def test_parse_instruments_inverse_swap_and_future():
    by_id = _by_id()
    swap = by_id["BTC-USD-SWAP"]
    assert swap.symbol == "BTC-USD-PERP"
    assert (swap.base, swap.quote, swap.settle) == ("BTC", "USD", "BTC")
    assert (swap.contract_value, swap.contract_value_ccy, swap.inverse) == ("100", "USD", True)
    fut = by_id["BTC-USD-220527"]
    assert fut.symbol == "BTC-USD-20220527"
    assert fut.kind is InstrumentKind.FUTURE
    assert fut.inverse
    assert fut.expiry_ns == 1_653_638_400_000 * 1_000_000


def test_parse_instruments_option_contract_value_is_ct_val_times_ct_mult():
    opt = _by_id()["BTC-USD-220514-22000-C"]
    assert opt.symbol == "BTC-USD-20220514-22000-C"
    assert (opt.base, opt.quote, opt.settle) == ("BTC", "USD", "BTC")
    assert (opt.contract_value, opt.contract_value_ccy) == ("0.1", "BTC")
    assert opt.price_precision == 4
    assert opt.expiry_ns == 1_652_515_200_000 * 1_000_000
    assert not opt.inverse


def test_parse_instruments_with_error_code_raises_venue_error():
    with pytest.raises(VenueError, match="50011") as e:
        parse_instruments((DATA / "rest_instruments_error.json").read_bytes())
    assert e.value.venue == "okx"
    assert e.value.code == "50011"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'[{"instType":"SPOT"}]',
        b'{"msg":"","data":[]}',
        b'{"code":"0","data":[{"instType":"SPOT","instId":"BTC-USDT"}]}',
        b'{"code":0,"data":[]}',
    ],
)
def test_parse_instruments_with_wrong_shape_raises_decode_error(body):
    with pytest.raises(DecodeError, match="instruments"):
        parse_instruments(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [("instId", "BTCUSDT"), ("expTime", "soon"), ("ctMult", "x")],
)
def test_parse_instruments_with_bad_entry_raises_decode_error_naming_it(field, value):
    entry = {
        "instType": "OPTION",
        "instId": "BTC-USD-220514-22000-C",
        "uly": "BTC-USD",
        "tickSz": "0.0005",
        "lotSz": "1",
        "ctVal": "1",
        "ctMult": "0.1",
        "expTime": "1652515200000",
    }
    entry[field] = value
    body = msgspec.json.encode({"code": "0", "msg": "", "data": [entry]})
    with pytest.raises(DecodeError, match="okx instrument"):
        parse_instruments(body)


def test_parse_instruments_empty_data_is_empty_list():
    assert parse_instruments(b'{"code":"0","msg":"","data":[]}') == []


@pytest.mark.data
def test_parse_instruments_real_2022_responses(shared_data):
    insts = read_rest_instruments(shared_data / OKX_2022 / "OKX.0")
    assert len(insts) > 1000
    kinds = {i.kind for i in insts.values()}
    assert kinds == set(InstrumentKind)

    spot = insts["BTC-USDT"]
    assert (spot.tick_size, spot.lot_size, spot.min_size) == ("0.1", "0.00000001", "0.00001")
    assert (spot.base, spot.quote, spot.contract_value) == ("BTC", "USDT", "1")

    uni = insts["UNI-USD-SWAP"]
    assert uni.symbol == "UNI-USD-PERP"
    assert (uni.contract_value, uni.contract_value_ccy, uni.inverse) == ("10", "USD", True)
    assert (uni.base, uni.quote, uni.settle) == ("UNI", "USD", "UNI")
    assert uni.price_precision == 3

    fut = insts["BTC-USD-220527"]
    assert fut.symbol == "BTC-USD-20220527"
    assert fut.kind is InstrumentKind.FUTURE
    assert (fut.contract_value, fut.inverse, fut.tick_size) == ("100", True, "0.1")
    assert fut.expiry_ns == 1_653_638_400_000_000_000

    linear = insts["BTC-USDT-SWAP"]
    assert (linear.contract_value, linear.contract_value_ccy, linear.inverse) == (
        "0.01",
        "BTC",
        False,
    )

    opt = insts["ETH-USD-220930-8000-P"]
    assert opt.symbol == "ETH-USD-20220930-8000-P"
    assert opt.kind is InstrumentKind.OPTION

"""OKX codec: ``funding-rate`` and ``mark-price`` pushes and REST answers -> events.

Hand-written payloads in the field names of the v5 docs (reference §5.3, §5.4); the swap
instrument is built here, so the test depends on no data file.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from arb.core.errors import DecodeError
from arb.core.errors import PrecisionError
from arb.core.errors import UnknownInstrument
from arb.core.errors import VenueError
from arb.core.events import FundingRate
from arb.core.events import MarketEvent
from arb.core.events import MarkPrice
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from venues.okx.codec import REST_FUNDING_PATH
from venues.okx.codec import REST_MARK_PATH
from venues.okx.codec import OkxCodec
from venues.okx.codec import rate_to_ppb

pytestmark = pytest.mark.unit

TS_RECV = 1_782_000_000_500_000_000
MS = 1_000_000
SWAP = Instrument.create(
    venue="okx",
    symbol="BTC-USDT-PERP",
    venue_symbol="BTC-USDT-SWAP",
    kind=InstrumentKind.PERP,
    base="BTC",
    quote="USDT",
    settle="USDT",
    tick_size="0.1",
    lot_size="0.01",
    contract_value="0.01",
    contract_value_ccy="BTC",
)


@pytest.fixture
def codec() -> OkxCodec:
    return OkxCodec([SWAP])


def ws(codec: OkxCodec, msg: dict[str, Any]) -> list[MarketEvent]:
    return codec.decode("<", "/ws/v5/public", msgspec.json.encode(msg), TS_RECV)


def rest(codec: OkxCodec, conn: str, body: dict[str, Any]) -> list[MarketEvent]:
    return codec.decode("r", conn, msgspec.json.encode(body), TS_RECV)


def funding_push(inst_id: str = "BTC-USDT-SWAP", rate: str = "0.0001") -> dict[str, Any]:
    return {
        "arg": {"channel": "funding-rate", "instId": inst_id},
        "data": [
            {
                "instType": "SWAP",
                "instId": inst_id,
                "method": "current_period",
                "formulaType": "withRate",
                "fundingRate": rate,
                "fundingTime": "1782028800000",
                "nextFundingTime": "1782057600000",
                "minFundingRate": "-0.0075",
                "maxFundingRate": "0.0075",
                "settState": "settled",
                "settFundingRate": "0.00008",
                "premium": "0.00012",
                "interestRate": "0.0001",
                "impactValue": "20000",
                "ts": "1782000000123",
            }
        ],
    }


def mark_push(inst_id: str = "BTC-USDT-SWAP", px: str = "60012.3") -> dict[str, Any]:
    return {
        "arg": {"channel": "mark-price", "instId": inst_id},
        "data": [{"instType": "SWAP", "instId": inst_id, "markPx": px, "ts": "1782000000456"}],
    }


def test_funding_rate_push_decodes_to_a_funding_rate_of_the_perp(codec):
    (ev,) = ws(codec, funding_push())
    assert ev == FundingRate(
        venue="okx",
        symbol="BTC-USDT-PERP",
        rate_ppb=100_000,
        funding_time_ns=1_782_028_800_000 * MS,
        next_funding_time_ns=1_782_057_600_000 * MS,
        ts_event=1_782_000_000_123 * MS,
        ts_recv=TS_RECV,
    )
    assert ev.next_funding_time_ns - ev.funding_time_ns == 8 * 3600 * 10**9


def test_a_negative_funding_rate_keeps_its_sign(codec):
    (ev,) = ws(codec, funding_push(rate="-0.00002375"))
    assert isinstance(ev, FundingRate)
    assert ev.rate_ppb == -23_750


@pytest.mark.parametrize(
    ("s", "ppb"),
    [
        ("0", 0),
        ("0.0001", 100_000),
        ("-0.0001", -100_000),
        ("0.000000001", 1),
        ("0.00010000", 100_000),
        ("0.0075", 7_500_000),
        ("0.0000792582148877", 79_258),  # more than 9 decimals: nearest ppb
        ("0.0000000005", 0),  # half to even
        ("0.0000000015", 2),
        ("-0.0000000025", -2),
    ],
)
def test_rate_to_ppb_is_exact_up_to_nine_decimals_and_rounds_half_even_past_them(s, ppb):
    assert rate_to_ppb(s) == ppb


@pytest.mark.parametrize("s", ["", "abc", "NaN", "Infinity", "0.1.2"])
def test_rate_to_ppb_refuses_what_is_not_a_decimal(s):
    with pytest.raises(PrecisionError):
        rate_to_ppb(s)


def test_mark_price_push_decodes_at_the_price_precision(codec):
    (ev,) = ws(codec, mark_push())
    assert ev == MarkPrice(
        venue="okx",
        symbol="BTC-USDT-PERP",
        px=600_123,
        ts_event=1_782_000_000_456 * MS,
        ts_recv=TS_RECV,
    )


@pytest.mark.parametrize("push", [funding_push("ETH-USDT-SWAP"), mark_push("ETH-USDT-SWAP")])
def test_an_unknown_instrument_raises_unknown_instrument(codec, push):
    with pytest.raises(UnknownInstrument):
        ws(codec, push)


def test_a_mark_price_off_the_tick_precision_raises_precision_error(codec):
    with pytest.raises(PrecisionError):
        ws(codec, mark_push(px="60012.35"))


def test_a_funding_push_without_times_is_a_decode_error(codec):
    msg = funding_push()
    msg["data"][0]["fundingTime"] = ""
    with pytest.raises(DecodeError):
        ws(codec, msg)


def test_an_older_funding_push_without_ts_is_stamped_at_receive_time(codec):
    msg = funding_push()
    del msg["data"][0]["ts"]
    (ev,) = ws(codec, msg)
    assert isinstance(ev, FundingRate)
    assert ev.ts_event == TS_RECV


def test_subscribe_acks_of_the_channels_give_no_event(codec):
    ack = {"event": "subscribe", "arg": {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"}}
    assert ws(codec, ack) == []


def test_rest_funding_rate_decodes_like_the_push(codec):
    push = funding_push()
    body = {"code": "0", "msg": "", "data": push["data"]}
    (ev,) = rest(codec, f"{REST_FUNDING_PATH}?instId=BTC-USDT-SWAP", body)
    assert ev == ws(codec, push)[0]


def test_rest_mark_price_by_inst_type_skips_instruments_the_codec_does_not_have(codec):
    data = mark_push()["data"] + mark_push("ETH-USDT-SWAP", "3001.23")["data"]
    body = {"code": "0", "msg": "", "data": data}
    (ev,) = rest(codec, f"{REST_MARK_PATH}?instType=SWAP", body)
    assert isinstance(ev, MarkPrice)
    assert (ev.symbol, ev.px) == ("BTC-USDT-PERP", 600_123)


def test_rest_answers_for_a_named_unknown_instrument_raise_unknown_instrument(codec):
    body = {"code": "0", "msg": "", "data": mark_push("ETH-USDT-SWAP")["data"]}
    with pytest.raises(UnknownInstrument):
        rest(codec, f"{REST_MARK_PATH}?instType=SWAP&instId=ETH-USDT-SWAP", body)


def test_rest_funding_rate_of_any_keeps_only_known_instruments(codec):
    data = funding_push()["data"] + funding_push("ETH-USDT-SWAP")["data"]
    events = rest(codec, f"{REST_FUNDING_PATH}?instId=ANY", {"code": "0", "data": data})
    assert [e.symbol for e in events] == ["BTC-USDT-PERP"]


def test_rest_error_code_raises_venue_error(codec):
    body = {"code": "51001", "msg": "Instrument ID does not exist.", "data": []}
    with pytest.raises(VenueError) as e:
        rest(codec, f"{REST_FUNDING_PATH}?instId=BTC-USDT-SWAP", body)
    assert e.value.code == "51001"


def test_rest_funding_rate_without_inst_id_or_with_a_bad_body_is_a_decode_error(codec):
    with pytest.raises(DecodeError):
        rest(codec, REST_FUNDING_PATH, {"code": "0", "data": []})
    with pytest.raises(DecodeError):
        codec.decode("r", f"{REST_MARK_PATH}?instType=SWAP", b"{not json", TS_RECV)

"""arb's normalized L2 encoding: encoders and NormalizedCodec."""

from __future__ import annotations

import msgspec
import pytest

from arb.core.errors import DecodeError
from arb.core.errors import PrecisionError
from arb.core.errors import UnknownInstrument
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import Quote
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.sequencing import ContiguousRule
from arb.core.sequencing import Verdict
from arb.ports import FrameCodec
from arb.recording import Kind
from venues.normalized import NormalizedCodec
from venues.normalized import encode_delta
from venues.normalized import encode_quote
from venues.normalized import encode_snap
from venues.normalized import encode_trade

pytestmark = pytest.mark.unit

INST = Instrument.create(
    venue="deribit",
    symbol="BTC-USD-PERP",
    venue_symbol="BTC-PERPETUAL",
    kind=InstrumentKind.PERP,
    base="BTC",
    quote="USD",
    tick_size="0.5",
    lot_size="10",
    inverse=True,
    source="inferred",
)
OTHER = Instrument.create(
    venue="bitmex",
    symbol="BTC-USD-PERP",
    venue_symbol="XBTUSD",
    kind=InstrumentKind.PERP,
    base="BTC",
    quote="USD",
    tick_size="0.5",
    lot_size="1",
)


@pytest.fixture
def codec() -> NormalizedCodec:
    return NormalizedCodec("deribit", [INST, OTHER])


def test_codec_satisfies_frame_codec_protocol(codec):
    c: FrameCodec = codec
    assert c.venue == "deribit"
    assert c.instruments() == [INST]


def test_encode_snap_is_compact_json_with_tag_first():
    payload = encode_snap("BTC-PERPETUAL", 1, 5, [("100", "10")], [("100.5", "20")], partial=True)
    assert payload == (
        b'{"t":"snap","s":"BTC-PERPETUAL","seq":1,"te":5,'
        b'"b":[["100","10"]],"a":[["100.5","20"]],"partial":true}'
    )
    assert b"partial" not in encode_snap("X", 1, 5, [], [])


def test_decode_snap_gives_book_snapshot_at_instrument_precision(codec):
    payload = encode_snap("BTC-PERPETUAL", 7, 1_000, [("100", "10")], [("100.5", "20")])
    (ev,) = codec.decode(Kind.NORMALIZED, "csv", payload, 2_000)
    assert ev == BookSnapshot(
        venue="deribit",
        symbol="BTC-USD-PERP",
        channel="l2",
        ts_event=1_000,
        ts_recv=2_000,
        seq=7,
        bids=[(1000, 10)],
        asks=[(1005, 20)],
        partial=False,
    )


def test_decode_partial_snap_sets_partial(codec):
    payload = encode_snap("BTC-PERPETUAL", 1, 1, [], [("100.5", "20")], partial=True)
    (ev,) = codec.decode(Kind.NORMALIZED, "csv", payload, 2)
    assert isinstance(ev, BookSnapshot)
    assert ev.partial is True
    assert ev.bids == []


def test_decode_delta_has_one_contiguous_sequence_number(codec):
    payload = encode_delta("BTC-PERPETUAL", 8, 3, [("99.5", "0")], [])
    (ev,) = codec.decode(Kind.NORMALIZED, "csv", payload, 4)
    assert isinstance(ev, BookDelta)
    assert (ev.first_seq, ev.last_seq, ev.prev_seq) == (8, 8, NO_SEQ)
    assert ev.bids == [(995, 0)]
    assert ev.channel == "l2"
    assert ContiguousRule().follows(7, ev) is Verdict.APPLY
    assert ContiguousRule().follows(6, ev) is Verdict.GAP


def test_decode_quote_and_trade(codec):
    (q,) = codec.decode(
        Kind.NORMALIZED, "csv", encode_quote("BTC-PERPETUAL", 5, "100", "10", "0", "0"), 6
    )
    assert q == Quote(
        venue="deribit",
        symbol="BTC-USD-PERP",
        channel="quote",
        ts_event=5,
        ts_recv=6,
        bid_px=1000,
        bid_qty=10,
        ask_px=0,
        ask_qty=0,
    )
    (t,) = codec.decode(
        Kind.NORMALIZED, "csv", encode_trade("BTC-PERPETUAL", 5, "abc", "sell", "100.5", "20"), 6
    )
    assert t == Trade(
        venue="deribit",
        symbol="BTC-USD-PERP",
        ts_event=5,
        ts_recv=6,
        trade_id="abc",
        px=1005,
        qty=20,
        side="sell",
    )


def test_symbol_is_found_by_canonical_symbol_too(codec):
    payload = encode_trade("BTC-USD-PERP", 5, "1", "buy", "100", "10")
    (t,) = codec.decode(Kind.NORMALIZED, "csv", payload, 6)
    assert t.symbol == "BTC-USD-PERP"


@pytest.mark.parametrize("kind", [Kind.RECV, Kind.SENT, Kind.OPEN, Kind.CLOSE, Kind.REST])
def test_other_frame_kinds_decode_to_nothing(codec, kind):
    assert codec.decode(kind, "ws0", b"not json", 1) == []


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"t":"nope","s":"BTC-PERPETUAL"}',
        b'{"t":"snap","s":"BTC-PERPETUAL","seq":1,"te":1,"b":[["1"]],"a":[]}',
        b'{"t":"delta","s":"BTC-PERPETUAL","seq":"1","te":1,"b":[],"a":[]}',
        b'{"t":"trade","s":"BTC-PERPETUAL","te":1,"id":"1","side":"up","px":"1","qty":"1"}',
    ],
)
def test_malformed_payload_raises_decode_error(codec, payload):
    with pytest.raises(DecodeError):
        codec.decode(Kind.NORMALIZED, "csv", payload, 1)


def test_unknown_symbol_raises_unknown_instrument(codec):
    with pytest.raises(UnknownInstrument, match="XBTUSD"):
        codec.decode(Kind.NORMALIZED, "csv", encode_delta("XBTUSD", 1, 1, [], []), 1)


def test_price_finer_than_precision_raises_precision_error(codec):
    with pytest.raises(PrecisionError):
        codec.decode(
            Kind.NORMALIZED, "csv", encode_delta("BTC-PERPETUAL", 1, 1, [("1.25", "1")], []), 1
        )


def test_book_spec_is_contiguous_without_checksum(codec):
    spec = codec.book_spec("BTC-USD-PERP", "l2")
    assert isinstance(spec.rule, ContiguousRule)
    assert spec.checksum is None


def test_messages_round_trip_through_msgspec():
    from venues.normalized.schemas import NormalizedMsg

    dec = msgspec.json.Decoder(NormalizedMsg)
    for payload in (
        encode_snap("S", 1, 2, [("1", "2")], [("3", "4")], partial=True),
        encode_delta("S", 2, 2, [], [("3", "0")]),
        encode_quote("S", 2, "1", "2", "3", "4"),
        encode_trade("S", 2, "id", "unknown", "1", "2"),
    ):
        assert msgspec.json.encode(dec.decode(payload)) == payload

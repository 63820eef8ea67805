"""OKX market-data codec: hand-made payloads of every channel, errors, checksums, real 2022 data."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from typing import cast

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.core.errors import DecodeError
from arb.core.errors import PrecisionError
from arb.core.errors import UnknownInstrument
from arb.core.errors import VenueError
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import MarketEvent
from arb.core.events import Quote
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.sequencing import NoSequenceRule
from arb.core.sequencing import OkxRule
from arb.core.sync import BookStats
from arb.core.sync import BookSync
from arb.core.sync import Outcome
from arb.ports import FrameCodec
from tests.unit.test_okx_instruments import OKX_2022
from tests.unit.test_okx_instruments import read_rest_instruments
from venues.okx.checksum import book_checksum
from venues.okx.codec import OkxCodec
from venues.okx.instruments import parse_instruments

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent.parent / "data" / "okx"
TS_RECV = 1_782_000_000_500_000_000
CONN = "ws0"
REST_BOOKS = "/api/v5/market/books?instId=BTC-USDT&sz=400"


def load(name: str) -> list[dict[str, Any]]:
    return msgspec.json.decode((DATA / name).read_bytes())


def encode(msg: dict[str, Any]) -> bytes:
    return msgspec.json.encode(msg)


def frames(name: str) -> list[bytes]:
    return [encode(m) for m in load(name)]


@pytest.fixture(scope="module")
def instruments() -> list[Instrument]:
    return parse_instruments((DATA / "rest_instruments.json").read_bytes())


@pytest.fixture
def codec(instruments) -> OkxCodec:
    return OkxCodec(instruments)


def decode_ws(codec: OkxCodec, payload: bytes) -> list[MarketEvent]:
    return codec.decode("<", CONN, payload, TS_RECV)


def feed(sync: BookSync, events: list[MarketEvent]) -> list[Outcome]:
    out = []
    for ev in events:
        if isinstance(ev, BookSnapshot):
            out.append(sync.on_snapshot(ev))
        else:
            assert isinstance(ev, BookDelta)
            out.append(sync.on_delta(ev))
    return out


# -- protocol ------------------------------------------------------------------------------


def test_codec_implements_frame_codec(instruments):
    other = Instrument.create(
        venue="binance",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size="0.01",
        lot_size="0.00001",
    )
    codec: FrameCodec = OkxCodec([*instruments, other])
    assert codec.venue == "okx"
    assert codec.instruments() == instruments


# -- books ---------------------------------------------------------------------------------


def test_decode_books_snapshot(codec):
    snap_frame = frames("ws_books.json")[0]
    (ev,) = decode_ws(codec, snap_frame)
    assert isinstance(ev, BookSnapshot)
    assert (ev.venue, ev.symbol, ev.channel) == ("okx", "BTC-USDT", "books")
    assert ev.ts_event == 1_782_000_000_100 * 1_000_000
    assert ev.ts_recv == TS_RECV
    assert ev.seq == 100
    assert ev.bids == [(302361, 20_000_000), (302360, 150_000_000), (302305, 47_612)]
    assert ev.asks == [(302435, 144_679_000), (302440, 8_000_000), (302461, 5_426_064)]
    assert ev.raw_bids == load("ws_books.json")[0]["data"][0]["bids"]
    assert ev.raw_asks is not None
    assert ev.raw_asks[0] == ["30243.5", "1.44679", "0", "6"]
    assert ev.checksum == load("ws_books.json")[0]["data"][0]["checksum"] != 0
    assert not ev.partial


def test_decode_books_update(codec):
    (ev,) = decode_ws(codec, frames("ws_books.json")[1])
    assert isinstance(ev, BookDelta)
    assert (ev.symbol, ev.channel) == ("BTC-USDT", "books")
    assert (ev.first_seq, ev.last_seq, ev.prev_seq) == (105, 105, 100)
    assert ev.asks == [(302435, 0), (302450, 50_000_000)]
    assert ev.bids == [(302361, 25_000_000), (302365, 1_000_000)]
    assert ev.raw_asks == [["30243.5", "0", "0", "0"], ["30245", "0.5000", "0", "1"]]
    assert ev.ts_event == 1_782_000_000_200_000_000


def test_decode_books_keep_alive_is_an_empty_delta(codec):
    (ev,) = decode_ws(codec, frames("ws_books.json")[2])
    assert isinstance(ev, BookDelta)
    assert (ev.bids, ev.asks) == ([], [])
    assert (ev.first_seq, ev.last_seq, ev.prev_seq) == (105, 105, 105)


@pytest.mark.parametrize("channel", ["books-l2-tbt", "books50-l2-tbt"])
def test_decode_tick_by_tick_books_keeps_the_channel_name(codec, channel):
    msgs = load("ws_books.json")
    for m in msgs:
        m["arg"]["channel"] = channel
    events = [ev for m in msgs for ev in decode_ws(codec, encode(m))]
    assert [type(e) for e in events] == [BookSnapshot, BookDelta, BookDelta, BookDelta]
    assert {e.channel for e in events if isinstance(e, BookSnapshot | BookDelta)} == {channel}


def test_books_stream_syncs_with_checksums_keep_alive_and_sequence_reset(codec):
    sync = codec.book_spec("BTC-USDT", "books").new_sync("okx", "BTC-USDT")
    outcomes = feed(sync, [ev for f in frames("ws_books.json") for ev in decode_ws(codec, f)])
    assert outcomes == [Outcome.APPLIED] * 4
    assert sync.valid
    assert sync.seq == 3
    assert sync.stats == BookStats(snapshots=1, deltas=3, applied=3, checksum_ok=4)
    assert sync.book.best_bid() == (302365, 1_000_000)
    assert sync.book.best_ask() == (302440, 8_000_000)


def test_books_checksum_mismatch_invalidates_the_book(codec):
    msgs = load("ws_books.json")
    msgs[1]["data"][0]["checksum"] += 1
    sync = codec.book_spec("BTC-USDT", "books").new_sync("okx", "BTC-USDT")
    outcomes = feed(sync, [ev for m in msgs[:2] for ev in decode_ws(codec, encode(m))])
    assert outcomes == [Outcome.APPLIED, Outcome.BAD_CHECKSUM]
    assert not sync.valid
    assert sync.resync_requested
    assert sync.stats.checksum_failed == 1
    assert sync.book.best_bid() is None


def test_books_prev_seq_id_break_is_a_gap(codec):
    msgs = load("ws_books.json")
    msgs[2]["data"][0]["prevSeqId"] = 104  # the keep-alive after 105
    sync = codec.book_spec("BTC-USDT", "books").new_sync("okx", "BTC-USDT")
    outcomes = feed(sync, [ev for m in msgs[:3] for ev in decode_ws(codec, encode(m))])
    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED, Outcome.GAP]
    assert sync.stats.gaps == 1
    assert sync.resync_requested


def test_books_checksum_zero_is_not_verified(codec):
    msgs = load("ws_books.json")
    for m in msgs:
        m["data"][0]["checksum"] = 0
    sync = codec.book_spec("BTC-USDT", "books").new_sync("okx", "BTC-USDT")
    outcomes = feed(sync, [ev for m in msgs for ev in decode_ws(codec, encode(m))])
    assert outcomes == [Outcome.APPLIED] * 4
    assert (sync.stats.checksum_ok, sync.stats.checksum_absent) == (0, 4)


def test_books_raw_rows_only_when_a_checksum_can_need_them(codec):
    msgs = load("ws_books.json")
    for m in msgs:
        m["data"][0]["checksum"] = 0
    snap, update = (ev for m in msgs[:2] for ev in decode_ws(codec, encode(m)))
    # A snapshot always keeps its rows (the book decides whether to keep them)...
    assert isinstance(snap, BookSnapshot)
    assert snap.raw_bids == msgs[0]["data"][0]["bids"]
    # ... an update with checksum 0 of an instrument that never had one has nothing to verify.
    assert isinstance(update, BookDelta)
    assert (update.raw_bids, update.raw_asks) == (None, None)
    assert update.asks == [(302435, 0), (302450, 50_000_000)]


def test_books_raw_rows_stay_on_once_the_instrument_had_a_checksum(codec):
    msgs = load("ws_books.json")
    msgs[2]["data"][0]["checksum"] = 0
    msgs[3]["data"][0]["checksum"] = 0
    decoded = [ev for m in msgs for ev in decode_ws(codec, encode(m))]
    assert all(isinstance(ev, BookSnapshot | BookDelta) for ev in decoded)
    events = cast(list[BookSnapshot | BookDelta], decoded)
    assert events[1].raw_asks == [["30243.5", "0", "0", "0"], ["30245", "0.5000", "0", "1"]]
    assert (events[2].raw_bids, events[2].raw_asks) == ([], [])  # checksum 0, rows kept
    assert events[3].raw_bids == [["30230.5", "0", "0", "0"]]
    sync = codec.book_spec("BTC-USDT", "books").new_sync("okx", "BTC-USDT")
    assert feed(sync, decoded[:3]) == [Outcome.APPLIED] * 3
    assert sync.book.keep_raw
    assert (sync.stats.checksum_ok, sync.stats.checksum_absent) == (2, 1)


def test_books_raw_rows_of_an_unexpected_shape_raise_decode_error(codec):
    msg = load("ws_books.json")[1]
    msg["data"][0]["asks"][0][3] = 0  # a number where OKX sends a string
    with pytest.raises(DecodeError, match="ws0 channel 'books'"):
        decode_ws(codec, encode(msg))


def test_books_without_seq_id_or_checksum_decode_to_no_seq(codec):
    msg = load("ws_books.json")[1]
    del msg["data"][0]["seqId"], msg["data"][0]["prevSeqId"], msg["data"][0]["checksum"]
    (ev,) = decode_ws(codec, encode(msg))
    assert isinstance(ev, BookDelta)
    assert (ev.first_seq, ev.last_seq, ev.prev_seq, ev.checksum) == (NO_SEQ, NO_SEQ, NO_SEQ, 0)


def test_docs_checksum_vector_c5_verifies_and_the_displayed_value_does_not():
    # The 8-level books sample of the v5 docs (reference okx-v5.md, vector C5).
    inst = Instrument.create(
        venue="okx",
        symbol="BTC-USDT",
        venue_symbol="BTC-USDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size="0.01",
        lot_size="1",
    )
    asks = [["8476.98", "415", "0", "13"], ["8477", "7", "0", "2"], ["8477.34", "85", "0", "1"]]
    asks += [["8477.56", "1", "0", "1"], ["8505.84", "8", "0", "1"], ["8506.37", "85", "0", "1"]]
    asks += [["8506.49", "2", "0", "1"], ["8506.96", "100", "0", "2"]]
    bids = [["8476.97", "256", "0", "12"], ["8475.55", "101", "0", "1"]]
    bids += [["8475.54", "100", "0", "1"], ["8475.3", "1", "0", "1"], ["8447.32", "6", "0", "1"]]
    bids += [["8447.02", "246", "0", "1"], ["8446.83", "24", "0", "1"], ["8446", "95", "0", "3"]]
    codec = OkxCodec([inst])
    for checksum, outcome in ((-2102840145, Outcome.APPLIED), (-855196043, Outcome.BAD_CHECKSUM)):
        msg = {
            "arg": {"channel": "books", "instId": "BTC-USDT"},
            "action": "snapshot",
            "data": [{"asks": asks, "bids": bids, "ts": "1597026383085", "checksum": checksum}],
        }
        sync = codec.book_spec("BTC-USDT", "books").new_sync("okx", "BTC-USDT")
        assert feed(sync, decode_ws(codec, encode(msg))) == [outcome]
        assert sync.valid is (outcome is Outcome.APPLIED)


def test_decode_books5_is_a_partial_snapshot(codec):
    (ev,) = decode_ws(codec, frames("ws_books5.json")[0])
    assert isinstance(ev, BookSnapshot)
    assert (ev.symbol, ev.channel, ev.seq, ev.checksum) == ("BTC-USDT", "books5", 101, 0)
    assert ev.partial
    assert ev.bids == [(302361, 20_000_000), (302360, 150_000_000)]
    assert ev.asks == [(302435, 144_679_000), (302440, 8_000_000)]
    assert ev.raw_bids is None
    sync = codec.book_spec("BTC-USDT", "books5").new_sync("okx", "BTC-USDT")
    assert sync.on_snapshot(ev) is Outcome.APPLIED


def test_book_spec_per_channel(codec):
    for channel in ("books", "books-l2-tbt", "books50-l2-tbt"):
        spec = codec.book_spec("BTC-USDT", channel)
        assert isinstance(spec.rule, OkxRule)
        assert spec.checksum is book_checksum
    spec = codec.book_spec("BTC-USDT", "books5")
    assert isinstance(spec.rule, NoSequenceRule)
    assert spec.checksum is None
    with pytest.raises(ValueError, match="trades"):
        codec.book_spec("BTC-USDT", "trades")


# -- quotes and trades ---------------------------------------------------------------------


def test_decode_bbo_tbt(codec):
    full, one_sided = (ev for f in frames("ws_bbo_tbt.json") for ev in decode_ws(codec, f))
    assert full == Quote(
        venue="okx",
        symbol="BTC-USDT",
        channel="bbo-tbt",
        ts_event=1_782_000_000_110_000_000,
        ts_recv=TS_RECV,
        seq=100,
        bid_px=302361,
        bid_qty=20_000_000,
        ask_px=302435,
        ask_qty=144_679_000,
    )
    assert isinstance(one_sided, Quote)
    assert (one_sided.seq, one_sided.ask_px, one_sided.ask_qty) == (102, 0, 0)
    assert one_sided.bid_px == 302361


def test_decode_tickers(codec):
    spot, future = (ev for f in frames("ws_tickers.json") for ev in decode_ws(codec, f))
    assert spot == Quote(
        venue="okx",
        symbol="BTC-USDT",
        channel="tickers",
        ts_event=1_782_000_000_130_000_000,
        ts_recv=TS_RECV,
        bid_px=302361,
        bid_qty=20_000_000,
        ask_px=302435,
        ask_qty=144_679_000,
        last_px=302360,
    )
    assert isinstance(future, Quote)
    assert future.symbol == "BTC-USD-20220527"
    assert (future.bid_px, future.bid_qty, future.ask_px, future.ask_qty) == (302300, 452, 0, 0)
    assert future.last_px == 302388
    assert future.seq == NO_SEQ


def test_decode_trades_one_event_per_entry(codec):
    events = decode_ws(codec, frames("ws_trades.json")[0])
    assert events == [
        Trade(
            venue="okx",
            symbol="BTC-USDT",
            ts_event=1_782_000_000_131_000_000,
            ts_recv=TS_RECV,
            trade_id="338476307",
            px=302360,
            qty=20_000,
            side="buy",
        ),
        Trade(
            venue="okx",
            symbol="BTC-USDT",
            ts_event=1_782_000_000_132_000_000,
            ts_recv=TS_RECV,
            trade_id="338476308",
            px=302359,
            qty=1_000_000,
            side="sell",
        ),
    ]


# -- frames without market data --------------------------------------------------------------


@pytest.mark.parametrize("payload", frames("ws_events.json"))
def test_events_and_unread_channels_decode_to_nothing(codec, payload):
    assert decode_ws(codec, payload) == []


def test_pong_decodes_to_nothing(codec):
    assert decode_ws(codec, b"pong") == []


@pytest.mark.parametrize("kind", [">", "+", "-", "n"])
def test_other_frame_kinds_decode_to_nothing(codec, kind):
    assert codec.decode(kind, CONN, frames("ws_books.json")[0], TS_RECV) == []


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{", "ws0.*malformed JSON"),
        (b"ping", "ws0.*malformed JSON"),
        (b"[1, 2]", "ws0.*unexpected shape"),
        (b'{"data":[]}', "ws0.*neither 'event' nor 'arg'"),
        (b'{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[["1"]]}', "ws0.*'books'"),
        (b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":{}}', "ws0.*'trades'"),
        (
            b'{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[{"asks":[],"bids":[],"ts":"1"}]}',
            "ws0 channel 'books'.*action",
        ),
        (
            b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
            b'"data":[{"asks":[["30243.5"]],"bids":[],"ts":"1"}]}',
            "ws0 channel 'books'",
        ),
        (
            b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
            b'"data":[{"asks":[],"bids":[],"ts":""}]}',
            "ws0 channel 'books'",
        ),
        (
            b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
            b'"tradeId":"1","px":"1","sz":"1","side":"up","ts":"1"}]}',
            "ws0 channel 'trades'.*side",
        ),
        (
            b'{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[[]],"bids":[],'
            b'"ts":"1"}]}',
            "ws0 channel 'bbo-tbt'",
        ),
    ],
)
def test_malformed_frame_raises_decode_error_naming_conn_and_channel(codec, payload, match):
    with pytest.raises(DecodeError, match=match):
        decode_ws(codec, payload)


@pytest.mark.parametrize("name", ["ws_books.json", "ws_books5.json", "ws_bbo_tbt.json"])
def test_unknown_inst_id_raises_unknown_instrument(codec, name):
    msg = load(name)[0]
    msg["arg"]["instId"] = "DOGE-USDT"
    msg["data"][0].pop("instId", None)
    with pytest.raises(UnknownInstrument, match="DOGE-USDT"):
        decode_ws(codec, encode(msg))


@pytest.mark.parametrize("name", ["ws_tickers.json", "ws_trades.json"])
def test_unknown_inst_id_in_data_raises_unknown_instrument(codec, name):
    msg = load(name)[0]
    msg["data"][0]["instId"] = "DOGE-USDT"
    with pytest.raises(UnknownInstrument, match="DOGE-USDT"):
        decode_ws(codec, encode(msg))


@pytest.mark.parametrize("px", ["30243.55", "abc", "", "30243.5.1"])
def test_bad_price_raises_precision_error_every_time(codec, px):
    msg = load("ws_books.json")[1]
    msg["data"][0]["asks"][1][0] = px
    for _ in range(2):  # a bad string is never memoized
        with pytest.raises(PrecisionError):
            decode_ws(codec, encode(msg))


def test_bad_trade_size_raises_precision_error(codec):
    msg = load("ws_trades.json")[0]
    msg["data"][1]["sz"] = "0.000000001"
    with pytest.raises(PrecisionError, match=r"0\.000000001"):
        decode_ws(codec, encode(msg))


_decimal = st.from_regex(r"[0-9]{1,7}(\.[0-9]{0,10})?", fullmatch=True)


@given(px=_decimal, sz=_decimal)
def test_levels_equal_instrument_conversions(instruments, px, sz):
    codec = OkxCodec(instruments)
    inst = next(i for i in instruments if i.venue_symbol == "BTC-USDT")
    msg = load("ws_books.json")[1]
    msg["data"][0]["asks"] = [[px, sz, "0", "1"]] * 2  # the second row hits the memo
    try:
        expected = [(inst.px_to_raw(px), inst.qty_to_raw(sz))] * 2
    except PrecisionError:
        with pytest.raises(PrecisionError):
            decode_ws(codec, encode(msg))
        return
    (ev,) = decode_ws(codec, encode(msg))
    assert isinstance(ev, BookDelta)
    assert ev.asks == expected


# -- REST ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "conn", [REST_BOOKS, "https://www.okx.com/api/v5/market/books?sz=400&instId=BTC-USDT"]
)
def test_decode_rest_books_is_a_books_snapshot(codec, conn):
    (ev,) = codec.decode("r", conn, (DATA / "rest_books.json").read_bytes(), TS_RECV)
    assert isinstance(ev, BookSnapshot)
    assert (ev.symbol, ev.channel, ev.seq, ev.checksum) == ("BTC-USDT", "books", 102, 0)
    assert ev.ts_event == 1_782_000_000_090_000_000
    assert ev.bids[0] == (302361, 20_000_000)
    assert ev.raw_asks is not None
    assert ev.raw_asks[0] == ["30243.5", "1.44679", "0", "6"]


def test_rest_snapshot_bootstraps_the_ws_book(codec):
    # Reference §3.6: subscribe and buffer the updates, then the REST snapshot (seqId 102) is
    # bracketed by the update 100 -> 105 and every buffered update's checksum verifies on top.
    sync = codec.book_spec("BTC-USDT", "books").new_sync("okx", "BTC-USDT")
    rest = codec.decode("r", REST_BOOKS, (DATA / "rest_books.json").read_bytes(), TS_RECV)
    ws = [ev for f in frames("ws_books.json")[1:] for ev in decode_ws(codec, f)]
    assert feed(sync, ws) == [Outcome.BUFFERED] * 3
    assert feed(sync, rest) == [Outcome.APPLIED]
    assert sync.seq == 3
    assert (sync.stats.checksum_ok, sync.stats.checksum_absent) == (3, 1)


def test_checksums_after_a_rest_snapshot_resync_once_then_verify(codec):
    # The REST snapshot carries no checksum, so the book keeps no raw strings; the first
    # checksummed update cannot be verified: one resync, then the next snapshot keeps them.
    sync = codec.book_spec("BTC-USDT", "books").new_sync("okx", "BTC-USDT")
    rest = codec.decode("r", REST_BOOKS, (DATA / "rest_books.json").read_bytes(), TS_RECV)
    ws = [ev for f in frames("ws_books.json")[1:] for ev in decode_ws(codec, f)]
    assert feed(sync, [*rest, ws[0]]) == [Outcome.APPLIED, Outcome.BAD_CHECKSUM]
    assert (sync.stats.checksum_unverified, sync.stats.checksum_failed) == (1, 0)
    assert sync.resync_requested
    assert feed(sync, [*ws, *rest]) == [*[Outcome.BUFFERED] * 3, Outcome.APPLIED]
    assert sync.stats.checksum_ok == 3


def test_rest_books_error_raises_venue_error(codec):
    body = (DATA / "rest_books_error.json").read_bytes()
    with pytest.raises(VenueError, match="51001") as e:
        codec.decode("r", REST_BOOKS, body, TS_RECV)
    assert (e.value.venue, e.value.code) == ("okx", "51001")


@pytest.mark.parametrize(
    ("conn", "body", "error", "match"),
    [
        ("/api/v5/market/books?sz=400", b"{}", DecodeError, "no instId"),
        ("/api/v5/market/books?instId=DOGE-USDT", b"{}", UnknownInstrument, "DOGE-USDT"),
        (REST_BOOKS, b"{", DecodeError, "malformed"),
        (REST_BOOKS, b'{"code":"0","msg":"","data":[]}', DecodeError, "no data"),
        (REST_BOOKS, b'{"code":"0","data":[{"asks":[],"bids":[],"ts":"x"}]}', DecodeError, "books"),
    ],
)
def test_rest_books_malformed_raises(codec, conn, body, error, match):
    with pytest.raises(error, match=match):
        codec.decode("r", conn, body, TS_RECV)


@pytest.mark.parametrize(
    "conn",
    [
        "/api/v5/public/instruments?instType=SPOT",
        "/api/v5/public/time",
        "/api/v5/market/books-full?instId=BTC-USDT",
    ],
)
def test_other_rest_paths_decode_to_nothing(codec, conn):
    body = (DATA / "rest_instruments.json").read_bytes()
    assert codec.decode("r", conn, body, TS_RECV) == []


# -- real data -------------------------------------------------------------------------------


def read_ws_capture(path: Path) -> list[tuple[int, bytes]]:
    """``(ts_recv_ns, payload)`` of every received line (``<ts>: <message>``) of a capture.

    Connect lines (``<url> <-> <ts>``) and sent lines (``<url> <- <ts>: <json>``) are skipped.
    """
    out = []
    with path.open("rb") as fh:
        for line in fh:
            head, sep, payload = line.rstrip(b"\n").partition(b": ")
            if not sep or b" " in head:
                continue
            sec, _, frac = head.partition(b".")
            ts = int(sec) * 1_000_000_000 + int(frac.ljust(9, b"0")[:9])
            out.append((ts, payload))
    return out


@pytest.mark.data
def test_real_2022_ws_recording_verifies_every_checksum(shared_data):
    insts = read_rest_instruments(shared_data / OKX_2022 / "OKX.0")
    codec = OkxCodec(insts.values())
    received = read_ws_capture(shared_data / OKX_2022 / "OKX.ws.1.0")
    syncs: dict[tuple[str, str], BookSync] = {}
    counts: dict[type, int] = {}
    for ts, payload in received:
        for ev in codec.decode("<", CONN, payload, ts):
            counts[type(ev)] = counts.get(type(ev), 0) + 1
            if isinstance(ev, BookSnapshot | BookDelta):
                key = (ev.symbol, ev.channel)
                if key not in syncs:
                    syncs[key] = codec.book_spec(ev.symbol, ev.channel).new_sync("okx", ev.symbol)
                feed(syncs[key], [ev])
    assert counts == {BookSnapshot: 3, BookDelta: 287, Trade: 74, Quote: 28}
    assert sorted(syncs) == [
        ("BTC-USD-20220527", "books"),
        ("BTC-USDT", "books"),
        ("UNI-USD-PERP", "books"),
    ]
    stats = [s.stats for s in syncs.values()]
    assert sum(s.checksum_ok for s in stats) == 290
    assert sum(s.checksum_failed for s in stats) == 0
    assert sum(s.gaps for s in stats) == 0
    assert sum(s.crossed for s in stats) == 0
    assert sum(s.snapshots for s in stats) == 3
    assert sum(s.applied for s in stats) == 287
    assert all(s.valid for s in syncs.values())

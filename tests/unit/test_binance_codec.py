"""Binance codec: hand-made payloads per event, malformed frames, and books through BookSync."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from arb.core.errors import DecodeError
from arb.core.errors import PrecisionError
from arb.core.errors import UnknownInstrument
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import Quote
from arb.core.events import TextBookDelta
from arb.core.events import Trade
from arb.core.scaler import RawScaler
from arb.core.sequencing import BinanceFuturesRule
from arb.core.sequencing import BinanceSpotRule
from arb.core.sync import Outcome
from arb.core.sync import SyncState
from arb.ports import FrameCodec
from venues.binance.codec import BinanceCodec
from venues.binance.instruments import inferred_instrument
from venues.binance.symbols import rest_depth_path

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent.parent / "data" / "binance"
TS = 1_700_000_001_000_000_000
MS = 1_000_000

SPOT = inferred_instrument("binance", "BTCUSDT", 2, 5)
USDM = inferred_instrument("binance-usdm", "BTCUSDT", 1, 3)
COINM = inferred_instrument("binance-coinm", "BTCUSD_PERP", 1, 0)


@pytest.fixture
def spot() -> BinanceCodec:
    return BinanceCodec("binance", [SPOT, USDM])


@pytest.fixture
def usdm() -> BinanceCodec:
    return BinanceCodec("binance-usdm", [USDM])


@pytest.fixture
def coinm() -> BinanceCodec:
    return BinanceCodec("binance-coinm", [COINM])


def _fixture(name: str) -> bytes:
    return (DATA / name).read_bytes().strip()


def _ws(codec: BinanceCodec, payload: bytes | str):
    if isinstance(payload, str):
        payload = payload.encode()
    return codec.decode("<", "ws0", payload, TS)


# -- one payload per event -----------------------------------------------------------------


def test_codec_implements_frame_codec(spot):
    codec: FrameCodec = spot
    assert codec.venue == "binance"
    assert codec.instruments() == [SPOT]  # the usdm instrument belongs to another venue


def test_constructor_refuses_unknown_venue():
    with pytest.raises(ValueError, match="kraken"):
        BinanceCodec("kraken", [])


def test_spot_depth_update_gives_book_delta_without_prev_seq(spot):
    (d,) = _ws(spot, _fixture("ws_depth_spot.json"))
    assert d == BookDelta(
        venue="binance",
        symbol="BTC-USDT",
        channel="depth",
        ts_event=1700000000123 * MS,
        ts_recv=TS,
        first_seq=1001,
        last_seq=1005,
        prev_seq=NO_SEQ,
        bids=[(4200010, 150000), (4199900, 0)],
        asks=[(4200020, 25000)],
    )


def test_usdm_depth_update_carries_pu(usdm):
    (d,) = _ws(usdm, _fixture("ws_depth_usdm.json"))
    assert isinstance(d, BookDelta)
    assert (d.symbol, d.first_seq, d.last_seq, d.prev_seq) == ("BTC-USDT-PERP", 2001, 2010, 2000)
    assert d.ts_event == 1700000000200 * MS
    assert d.bids == [(420015, 3250)]
    assert d.asks == [(420016, 0), (420020, 1001)]


def test_coinm_depth_update(coinm):
    (d,) = _ws(coinm, _fixture("ws_depth_coinm.json"))
    assert isinstance(d, BookDelta)
    assert (d.venue, d.symbol, d.prev_seq) == ("binance-coinm", "BTC-USD-PERP", 3000)
    assert (d.bids, d.asks) == ([(419905, 120)], [(419906, 7)])


def test_bare_depth_update_decodes_like_an_envelope(spot):
    envelope = json.loads(_fixture("ws_depth_spot.json"))
    bare = json.dumps(envelope["data"], separators=(",", ":"))
    assert _ws(spot, bare) == _ws(spot, _fixture("ws_depth_spot.json"))


def test_spot_book_ticker_without_e_gives_quote_at_receive_time(spot):
    expected = Quote(
        venue="binance",
        symbol="BTC-USDT",
        channel="bookTicker",
        ts_event=TS,
        ts_recv=TS,
        seq=1006,
        bid_px=4200010,
        bid_qty=150000,
        ask_px=4200020,
        ask_qty=25000,
    )
    assert _ws(spot, _fixture("ws_bookticker_spot.json")) == [expected]
    bare = json.dumps(json.loads(_fixture("ws_bookticker_spot.json"))["data"])
    assert _ws(spot, bare) == [expected]


def test_futures_book_ticker_uses_event_time(usdm):
    (q,) = _ws(usdm, _fixture("ws_bookticker_usdm.json"))
    assert isinstance(q, Quote)
    assert (q.seq, q.ts_event) == (2011, 1700000000202 * MS)
    assert (q.bid_px, q.bid_qty, q.ask_px, q.ask_qty) == (420015, 3250, 420020, 1001)


def test_trade_side_is_taker_side(spot):
    (t,) = _ws(spot, _fixture("ws_trade_spot.json"))
    assert t == Trade(
        venue="binance",
        symbol="BTC-USDT",
        ts_event=1700000000399 * MS,
        ts_recv=TS,
        trade_id="777001",
        px=4200020,
        qty=1000,
        side="buy",
    )


def test_agg_trade_uses_aggregate_id_and_buyer_maker_is_sell(coinm):
    (t,) = _ws(coinm, _fixture("ws_aggtrade_coinm.json"))
    assert isinstance(t, Trade)
    assert (t.trade_id, t.px, t.qty, t.side) == ("88001", 419905, 3, "sell")
    assert t.ts_event == 1700000000498 * MS


@pytest.mark.parametrize(
    "payload",
    [
        '{"result":null,"id":1}',
        '{"result":["btcusdt@depth"],"id":7}',
        '{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1,"s":"BTCUSDT","k":{}}}',
        '{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1.0"}',
        '{"stream":"btcusdt@depth5","data":{"lastUpdateId":5,"bids":[],"asks":[]}}',
        '{"stream":"btcusdt@depth20@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT",'
        '"U":1,"u":2,"pu":0,"b":[],"a":[]}}',
    ],
)
def test_frames_without_market_events_give_nothing(spot, payload):
    assert _ws(spot, payload) == []


def test_other_frame_kinds_give_nothing(spot):
    assert spot.decode("+", "ws0", b"wss://stream.binance.com:9443/stream", TS) == []
    assert spot.decode(">", "ws0", b'{"method":"SUBSCRIBE","params":[],"id":1}', TS) == []
    assert spot.decode("r", "/api/v3/exchangeInfo", b'{"symbols":[]}', TS) == []


def test_envelope_with_reordered_keys_still_decodes(spot):
    envelope = json.loads(_fixture("ws_depth_spot.json"))
    reordered = json.dumps({"data": envelope["data"], "stream": envelope["stream"]})
    assert _ws(spot, reordered) == _ws(spot, _fixture("ws_depth_spot.json"))


def test_book_spec_follows_market(spot, usdm, coinm):
    assert isinstance(spot.book_spec("BTC-USDT", "depth").rule, BinanceSpotRule)
    assert isinstance(usdm.book_spec("BTC-USDT-PERP", "depth").rule, BinanceFuturesRule)
    assert isinstance(coinm.book_spec("BTC-USD-PERP", "depth").rule, BinanceFuturesRule)
    assert spot.book_spec("BTC-USDT", "depth").checksum is None


# -- REST snapshots ------------------------------------------------------------------------


def test_spot_rest_snapshot_takes_symbol_from_path(spot):
    conn = "/api/v3/depth?symbol=BTCUSDT&limit=1000"
    (s,) = spot.decode("r", conn, _fixture("rest_depth_spot.json"), TS)
    assert s == BookSnapshot(
        venue="binance",
        symbol="BTC-USDT",
        channel="depth",
        ts_event=TS,
        ts_recv=TS,
        seq=1003,
        bids=[(4200010, 100000), (4199900, 200000)],
        asks=[(4200020, 50000), (4200100, 120000)],
    )


def test_usdm_rest_snapshot_uses_event_time(usdm):
    (s,) = usdm.decode("r", "/fapi/v1/depth?symbol=BTCUSDT", _fixture("rest_depth_usdm.json"), TS)
    assert isinstance(s, BookSnapshot)
    assert (s.symbol, s.seq, s.ts_event) == ("BTC-USDT-PERP", 2005, 1700000000190 * MS)


def test_coinm_rest_snapshot_takes_symbol_from_body(coinm):
    (s,) = coinm.decode("r", "/dapi/v1/depth?limit=1000", _fixture("rest_depth_coinm.json"), TS)
    assert isinstance(s, BookSnapshot)
    assert (s.symbol, s.seq, s.bids[0], s.asks[0]) == (
        "BTC-USD-PERP",
        3002,
        (419905, 100),
        (419906, 10),
    )


def test_rest_snapshot_refusals(spot, coinm):
    body = _fixture("rest_depth_spot.json")
    with pytest.raises(DecodeError, match="names no symbol"):
        spot.decode("r", "/api/v3/depth?limit=100", body, TS)
    with pytest.raises(DecodeError, match="binance-usdm depth path"):
        spot.decode("r", "/fapi/v1/depth?symbol=BTCUSDT", body, TS)
    with pytest.raises(UnknownInstrument, match="ETHUSDT"):
        spot.decode("r", "/api/v3/depth?symbol=ETHUSDT", body, TS)
    with pytest.raises(DecodeError, match=r"/api/v3/depth\?symbol=BTCUSDT"):
        spot.decode("r", "/api/v3/depth?symbol=BTCUSDT", b'{"code":-1121,"msg":"Invalid"}', TS)
    with pytest.raises(DecodeError, match="body names symbol"):
        coinm.decode(
            "r", "/dapi/v1/depth?symbol=ETHUSD_PERP", _fixture("rest_depth_coinm.json"), TS
        )


# -- malformed frames ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate"', "malformed JSON"),
        (b"[1,2]", "not an object"),
        (
            b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT",'
            b'"u":5,"b":[],"a":[]}}',
            r"btcusdt@depth@100ms.*`U`",
        ),
        (
            b'{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.0"}}',
            "btcusdt@bookTicker",
        ),
        (b'{"e":"trade","s":"BTCUSDT","t":"x"}', "ws0"),
        (b'{"code":-1003,"msg":"Too many requests"}', "venue sent error -1003"),
        (b'{"foo":1}', "ws0"),
    ],
)
def test_malformed_frame_raises_decode_error_naming_where(spot, payload, match):
    with pytest.raises(DecodeError, match=match):
        _ws(spot, payload)


def test_unknown_symbol_raises_unknown_instrument(usdm):
    payload = _fixture("ws_depth_usdm.json").replace(b'"BTCUSDT"', b'"ETHUSDT"')
    with pytest.raises(UnknownInstrument, match="ETHUSDT"):
        _ws(usdm, payload)


def test_price_finer_than_tick_raises_precision_error(spot):
    payload = _fixture("ws_depth_spot.json").replace(b"42000.10000000", b"42000.10500000")
    with pytest.raises(PrecisionError, match=r"42000\.105"):
        _ws(spot, payload)


# -- string -> raw conversion --------------------------------------------------------------


def test_raw_scaler_agrees_with_to_raw_and_bounds_its_memo():
    sc = RawScaler(SPOT, capacity=2)
    rows = [("42000.10000000", "0.00000000"), ("42000.20", "1.5"), ("42000.10000000", "2")]
    assert sc.levels(rows) == [(4200010, 0), (4200020, 150000), (4200010, 200000)]
    assert (sc.px("7"), sc.qty("0.00001000")) == (700, 1)
    assert len(sc._px) <= 2
    assert len(sc._qty) <= 2


def test_raw_scaler_never_memoizes_a_refused_string():
    sc = RawScaler(SPOT)
    for _ in range(2):
        with pytest.raises(PrecisionError):
            sc.levels([("1.001", "1")])
        with pytest.raises(PrecisionError):
            sc.qty("abc")
    assert "1.001" not in sc._px
    assert "abc" not in sc._qty


def test_raw_scaler_getters_convert_and_remember_through_the_memos():
    sc = RawScaler(SPOT, capacity=3)
    px, qty = sc.getters()
    assert [px(s) for s in ("42000.1", "42000.10000000", "7", "42000.1")] == [
        4200010,
        4200010,
        700,
        4200010,
    ]
    assert qty("0.00001000") == sc.inst.qty_to_raw("0.00001000") == 1
    assert len(sc._px) <= 3
    for bad in ("1.001", "abc", "", "1.2.3"):
        with pytest.raises(PrecisionError):
            px(bad)
        assert bad not in sc._px


# -- books through BookSync ----------------------------------------------------------------


def _depth(codec: BinanceCodec, first: int, last: int, prev: int | None, bid: str, ask: str):
    data = {"e": "depthUpdate", "E": 1700000000000 + last, "s": codec.instruments()[0].venue_symbol}
    data |= {"U": first, "u": last, "b": [[bid, "1"]], "a": [[ask, "1"]]}
    if prev is not None:
        data["pu"] = prev
    payload = json.dumps({"stream": "x@depth", "data": data}, separators=(",", ":"))
    (d,) = _ws(codec, payload)
    return d


def _snapshot(codec: BinanceCodec, last_update_id: int):
    inst = codec.instruments()[0]
    body = json.dumps(
        {"lastUpdateId": last_update_id, "bids": [["100", "5"]], "asks": [["110", "5"]]}
    )
    (s,) = codec.decode("r", rest_depth_path(codec.venue, inst.venue_symbol), body.encode(), TS)
    return s


def _sync(codec: BinanceCodec):
    inst = codec.instruments()[0]
    return codec.book_spec(inst.symbol, "depth").new_sync(codec.venue, inst.symbol)


def test_spot_bracketing_drops_u_at_or_below_snapshot_then_chains_u(spot):
    sync = _sync(spot)
    assert sync.on_snapshot(_snapshot(spot, 1000)) is Outcome.APPLIED
    assert sync.on_delta(_depth(spot, 990, 1000, None, "99", "111")) is Outcome.STALE  # u <= L
    assert sync.on_delta(_depth(spot, 1001, 1004, None, "101", "109")) is Outcome.APPLIED
    assert sync.on_delta(_depth(spot, 1005, 1007, None, "102", "108")) is Outcome.APPLIED
    assert sync.book.best_bid() == (10200, 100000)
    assert sync.on_delta(_depth(spot, 1009, 1010, None, "103", "107")) is Outcome.GAP
    assert sync.resync_requested
    assert sync.stats.gaps == 1


def test_spot_first_event_must_bracket_snapshot_plus_one(spot):
    sync = _sync(spot)
    sync.on_snapshot(_snapshot(spot, 1000))
    assert sync.on_delta(_depth(spot, 1002, 1004, None, "101", "109")) is Outcome.GAP


def test_spot_deltas_buffered_before_snapshot_are_replayed(spot):
    sync = _sync(spot)
    for first, last in ((995, 999), (1000, 1003), (1004, 1006)):
        assert sync.on_delta(_depth(spot, first, last, None, "101", "109")) is Outcome.BUFFERED
    assert sync.on_snapshot(_snapshot(spot, 1001)) is Outcome.APPLIED
    assert (sync.seq, sync.stats.stale, sync.stats.applied) == (1006, 1, 2)


def test_futures_bracketing_keeps_u_equal_to_snapshot_then_chains_pu(usdm):
    sync = _sync(usdm)
    sync.on_snapshot(_snapshot(usdm, 2000))
    assert sync.on_delta(_depth(usdm, 1990, 1999, 1989, "99", "111")) is Outcome.STALE  # u < L
    assert sync.on_delta(_depth(usdm, 1995, 2000, 1999, "101", "109")) is Outcome.APPLIED
    assert sync.on_delta(_depth(usdm, 2003, 2008, 2000, "102", "108")) is Outcome.APPLIED
    assert sync.book.best_ask() == (1080, 1000)
    assert sync.on_delta(_depth(usdm, 2012, 2015, 2010, "103", "107")) is Outcome.GAP
    assert sync.resync_requested
    assert sync.state is SyncState.AWAITING_SNAPSHOT


def test_futures_first_event_must_bracket_snapshot(coinm):
    sync = _sync(coinm)
    sync.on_snapshot(_snapshot(coinm, 3000))
    # U == L + 1 is fine on spot, a gap on futures (the event holding L is missing).
    assert sync.on_delta(_depth(coinm, 3001, 3004, 3000, "101", "109")) is Outcome.GAP


# -- recorded market (../shared/data) --------------------------------------------------------

REC = "binance-btc-spot-usdm-coinm-20240808"


def _replay(codec: BinanceCodec, files: list[Path]):
    inst = codec.instruments()[0]
    sync = _sync(codec)
    counts = {"delta": 0, "snapshot": 0, "quote": 0, "trade": 0}
    rest = rest_depth_path(codec.venue, inst.venue_symbol) + "&limit=1000"
    for path in files:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                ts, raw = line.rstrip(b"\n").split(b" ", 1)
                if raw.startswith(b'{"stream"'):
                    events = codec.decode("<", "ws0", raw, int(ts))
                else:  # the bare REST snapshot: it belongs to the file's only symbol
                    events = codec.decode("r", rest, raw, int(ts))
                for ev in events:
                    if isinstance(ev, BookDelta):
                        counts["delta"] += 1
                        sync.on_delta(ev)
                    elif isinstance(ev, BookSnapshot):
                        counts["snapshot"] += 1
                        sync.on_snapshot(ev)
                    elif isinstance(ev, Quote):
                        counts["quote"] += 1
                    else:
                        counts["trade"] += 1
    sync.book.check()
    return sync, counts


@pytest.mark.data
@pytest.mark.parametrize(
    ("venue", "venue_symbol", "px_prec", "qty_prec", "folder", "stem"),
    [
        ("binance", "BTCUSDT", 2, 8, "spot", "btcusdt"),  # sizes reach 6 decimals
        ("binance-usdm", "BTCUSDT", 1, 3, "usdm", "btcusdt"),
        ("binance-coinm", "BTCUSD_PERP", 1, 0, "cm", "btcusd_perp"),
    ],
)
def test_recorded_market_replays_without_gaps(
    shared_data, venue, venue_symbol, px_prec, qty_prec, folder, stem
):
    codec = BinanceCodec(venue, [inferred_instrument(venue, venue_symbol, px_prec, qty_prec)])
    files = sorted((shared_data / REC / folder).glob(f"{stem}_*.gz"))
    assert files, f"no {stem}_*.gz under {shared_data / REC / folder}"
    sync, counts = _replay(codec, files)
    st = sync.stats
    assert counts["snapshot"] == 1
    assert counts["delta"] > 1000
    assert counts["trade"] > 1000
    assert (st.gaps, st.crossed, st.resyncs) == (0, 0, 0)
    assert st.applied > 1000
    assert sync.valid


@pytest.mark.parametrize(
    ("venue", "inst", "fixture"),
    [
        ("binance", SPOT, "ws_depth_spot.json"),
        ("binance-usdm", USDM, "ws_depth_usdm.json"),
        ("binance-coinm", COINM, "ws_depth_coinm.json"),
    ],
)
def test_engine_codec_gives_the_same_depth_update_as_text_rows(venue, inst, fixture):
    # The engine's codec (text_deltas) hands depth rows to the book unconverted; converted,
    # they are exactly the plain codec's BookDelta. Other events are unchanged.
    payload = _fixture(fixture)
    (plain,) = _ws(BinanceCodec(venue, [inst]), payload)
    (text,) = _ws(BinanceCodec(venue, [inst], text_deltas=True), payload)
    assert isinstance(text, TextBookDelta)
    assert text.to_delta() == plain
    trade = _fixture("ws_trade_spot.json")
    assert _ws(BinanceCodec("binance", [SPOT], text_deltas=True), trade) == _ws(
        BinanceCodec("binance", [SPOT]), trade
    )

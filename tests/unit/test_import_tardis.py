"""arb import --format tardis, on hand-made tardis.dev CSVs."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec
import pytest

from arb.core.errors import RecordingError
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.sync import SyncState
from arb.importers import run_import
from arb.recording import Kind
from arb.recording import open_recording
from venues.normalized import NormalizedCodec
from venues.normalized.schemas import NormalizedMsg

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent.parent / "data" / "import"
LEAD = "exchange,symbol,timestamp,local_timestamp"
_msg = msgspec.json.Decoder(NormalizedMsg)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def messages(out: Path) -> list[object]:
    return [_msg.decode(f.payload) for f in open_recording(out).frames()]


def test_incremental_groups_rows_into_sorted_snapshot_and_deltas(tmp_path):
    src = DATA / "tardis_incremental_book_L2.csv"
    report = run_import("tardis", [src], tmp_path / "out")
    rec = open_recording(tmp_path / "out")
    got = list(rec.frames())
    assert (report.frames, report.skipped) == (3, 1)
    assert [(f.ts_recv, f.venue, f.kind) for f in got] == [
        (1700000000100000000, "deribit", Kind.NORMALIZED),
        (1700000000300000000, "deribit", Kind.NORMALIZED),
        (1700000000500000000, "deribit", Kind.NORMALIZED),
    ]
    assert got[0].payload == (
        b'{"t":"snap","s":"BTC-PERPETUAL","seq":1,"te":1700000000000000000,'
        b'"b":[["100","40"],["99.5","20"]],"a":[["100.5","10"],["101","30"]]}'
    )
    assert got[1].payload == (
        b'{"t":"delta","s":"BTC-PERPETUAL","seq":2,"te":1700000000200000000,'
        b'"b":[["100","50"]],"a":[["100.5","0"]]}'
    )
    (inst,) = rec.manifest.instruments
    assert (inst.venue, inst.symbol, inst.inverse, inst.contract_value) == (
        "deribit",
        "BTC-USD-PERP",
        True,
        "1",
    )
    assert (inst.price_precision, inst.size_precision, inst.lot_size) == (1, 0, "10")
    assert rec.manifest.notes["tardis_types"] == (
        "tardis_incremental_book_L2.csv: incremental_book_L2"
    )


def test_incremental_replays_into_a_synced_book(tmp_path):
    run_import("tardis", [DATA / "tardis_incremental_book_L2.csv"], tmp_path / "out")
    rec = open_recording(tmp_path / "out")
    codec = NormalizedCodec("deribit", rec.manifest.instruments)
    sync = codec.book_spec("BTC-USD-PERP", "l2").new_sync("deribit", "BTC-USD-PERP")
    for f in rec.frames():
        for ev in codec.decode(f.kind, f.conn, f.payload, f.ts_recv):
            if isinstance(ev, BookSnapshot):
                sync.on_snapshot(ev)
            else:
                assert isinstance(ev, BookDelta)
                sync.on_delta(ev)
    assert sync.state is SyncState.SYNCED
    assert sync.stats.gaps == 0
    assert sync.seq == 3


def test_book_snapshot_n_gives_partial_snapshots_and_skips_empty_cells(tmp_path):
    src = write(
        tmp_path,
        "binance-futures_book_snapshot_2_BTCUSDT.csv",
        f"{LEAD},asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,"
        "asks[1].price,asks[1].amount,bids[1].price,bids[1].amount\n"
        "binance-futures,BTCUSDT,1000,2000,101.5,1.25,101,3,102,4,,\n"
        "binance-futures,BTCUSDT,3000,4000,101.5,1,101,3,102,4,100.75,0.5\n",
    )
    report = run_import("tardis", [src], tmp_path / "out")
    assert report.frames == 2
    snaps = messages(tmp_path / "out")
    assert [(m.seq, m.te, m.partial, m.b, m.a) for m in snaps] == [  # type: ignore[attr-defined]
        (1, 1_000_000, True, [("101", "3")], [("101.5", "1.25"), ("102", "4")]),
        (2, 3_000_000, True, [("101", "3"), ("100.75", "0.5")], [("101.5", "1"), ("102", "4")]),
    ]
    (inst,) = open_recording(tmp_path / "out").manifest.instruments
    assert (inst.venue, inst.symbol, inst.price_precision, inst.size_precision) == (
        "binance-usdm",
        "BTC-USDT-PERP",
        2,
        2,
    )


def test_quotes_and_trades(tmp_path):
    quotes = write(
        tmp_path,
        "huobi-dm-swap_quotes_BTC-USD.csv",
        f"{LEAD},ask_amount,ask_price,bid_price,bid_amount\n"
        "huobi-dm-swap,BTC-USD,1000,1500,5,100.5,100.4,7\n"
        "huobi-dm-swap,BTC-USD,2000,2500,,,100.4,7\n",
    )
    trades = write(
        tmp_path,
        "bitmex_trades_XBTUSD.csv",
        f"{LEAD},id,side,price,amount\nbitmex,XBTUSD,1100,1600,t-1,sell,8531.5,20\n"
        "bitmex,XBTUSD,1200,1700,t-2,unknown,8531,1\n",
    )
    report = run_import("tardis", [quotes, trades], tmp_path / "out")
    rec = open_recording(tmp_path / "out")
    assert report.frames == 4
    assert [(f.ts_recv, f.venue) for f in rec.frames()] == [
        (1_500_000, "huobi-swap"),
        (1_600_000, "bitmex"),
        (1_700_000, "bitmex"),
        (2_500_000, "huobi-swap"),
    ]
    payloads = [f.payload for f in rec.frames()]
    assert payloads[0] == (
        b'{"t":"quote","s":"BTC-USD","te":1000000,"bp":"100.4","bq":"7","ap":"100.5","aq":"5"}'
    )
    assert payloads[3].endswith(b'"ap":"0","aq":"0"}')
    assert payloads[1] == (
        b'{"t":"trade","s":"XBTUSD","te":1100000,"id":"t-1","side":"sell","px":"8531.5","qty":"20"}'
    )
    insts = {i.venue: i for i in rec.manifest.instruments}
    assert (insts["huobi-swap"].symbol, insts["huobi-swap"].contract_value) == (
        "BTC-USD-PERP",
        "100",
    )
    assert (insts["bitmex"].symbol, insts["bitmex"].inverse) == ("BTC-USD-PERP", True)
    codec = NormalizedCodec("bitmex", rec.manifest.instruments)
    events = [
        ev
        for f in rec.frames()
        if f.venue == "bitmex"
        for ev in codec.decode(f.kind, f.conn, f.payload, f.ts_recv)
    ]
    assert [(t.px, t.qty, t.side) for t in events] == [  # type: ignore[union-attr]
        (85315, 20, "sell"),
        (85310, 1, "unknown"),
    ]


@pytest.mark.parametrize(
    ("exchange", "symbol", "venue", "canonical", "terms"),
    [
        ("binance", "ETHBTC", "binance", "ETH-BTC", {"inverse": False}),
        ("binance-futures", "BTCUSDT", "binance-usdm", "BTC-USDT-PERP", {"inverse": False}),
        ("binance-delivery", "BTCUSD_PERP", "binance-coinm", "BTC-USD-PERP", {"inverse": True}),
        ("deribit", "ETH-PERPETUAL", "deribit", "ETH-USD-PERP", {"contract_value": "1"}),
        (
            "deribit",
            "BTC-25SEP20",
            "deribit",
            "BTC-USD-20200925",
            {"expiry_ns": 1601020800 * 10**9},
        ),
        ("bitmex", "XBTUSD", "bitmex", "BTC-USD-PERP", {"contract_value": "1"}),
        ("huobi-dm-swap", "ETH-USD", "huobi-swap", "ETH-USD-PERP", {"contract_value": "10"}),
        ("okex-swap", "BTC-USD-SWAP", "okx", "BTC-USD-PERP", {"contract_value": "100"}),
        ("okex-futures", "ETH-USD-220527", "okx", "ETH-USD-20220527", {"inverse": True}),
        ("okex", "BTC-USDT", "okx", "BTC-USDT", {"inverse": False}),
        ("coinbase", "BTC-USD", "coinbase", "BTC-USD", {"kind": "spot"}),
    ],
)
def test_exchange_and_symbol_mapping(tmp_path, exchange, symbol, venue, canonical, terms):
    src = write(
        tmp_path,
        "t.csv",
        f"{LEAD},id,side,price,amount\n{exchange},{symbol},1,2,x,buy,100.5,3\n",
    )
    run_import("tardis", [src], tmp_path / "out")
    (inst,) = open_recording(tmp_path / "out").manifest.instruments
    assert (inst.venue, inst.symbol, inst.venue_symbol, inst.source) == (
        venue,
        canonical,
        symbol,
        "inferred",
    )
    for k, v in terms.items():
        assert getattr(inst, k) == v


def test_venue_option_renames_the_venue(tmp_path):
    src = write(tmp_path, "t.csv", f"{LEAD},id,side,price,amount\nbitmex,XBTUSD,1,2,x,buy,1,3\n")
    run_import("tardis", [src], tmp_path / "out", venue="bitmex-test")
    rec = open_recording(tmp_path / "out")
    assert [f.venue for f in rec.frames()] == ["bitmex-test"]
    assert [i.venue for i in rec.manifest.instruments] == ["bitmex-test"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("ftx,BTC-PERP,1,2,x,buy,1,1", "unknown exchange 'ftx'"),
        ("bitmex,ETHUSD,1,2,x,buy,1,1", "bitmex symbol 'ETHUSD'"),
        ("deribit,BTC-99XYZ20,1,2,x,buy,1,1", "deribit symbol 'BTC-99XYZ20'"),
        ("okex-swap,BTC-USDT-SWAP,1,2,x,buy,1,1", "face value unknown"),
        ("bitmex,XBTUSD,1.5,2,x,buy,1,1", "not integer microseconds"),
        ("bitmex,XBTUSD,1,2,x,buy,1e-5,1", "'1e-5' is not a decimal number"),
        ("bitmex,XBTUSD,1,2,x,up,1,1", "side 'up'"),
        ("bitmex,XBTUSD,1,2,x,buy,1", "expected 8 cells, received 7"),
    ],
)
def test_bad_rows_name_file_and_line_or_are_counted(tmp_path, row, message):
    src = write(
        tmp_path,
        "trades.csv",
        f"{LEAD},id,side,price,amount\nbitmex,XBTUSD,1,2,a,buy,1,1\n{row}\n"
        "bitmex,XBTUSD,3,4,b,sell,1,1\n",
    )
    with pytest.raises(RecordingError, match=r"trades\.csv:3: ") as e:
        run_import("tardis", [src], tmp_path / "out")
    assert message in str(e.value)
    report = run_import("tardis", [src], tmp_path / "out", skip_bad=True)
    assert (report.frames, report.bad_lines) == (2, {str(src): 1})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("deribit,BTC-PERPETUAL,1,2,maybe,bid,1,1", "is_snapshot 'maybe'"),
        ("deribit,BTC-PERPETUAL,1,2,false,mid,1,1", "side 'mid'"),
        ("deribit,BTC-PERPETUAL,1,2,false,bid,1,-1", "'-1' is not a decimal number"),
    ],
)
def test_bad_incremental_rows(tmp_path, row, message):
    src = write(
        tmp_path,
        "l2.csv",
        f"{LEAD},is_snapshot,side,price,amount\nderibit,BTC-PERPETUAL,1,2,true,bid,1,10\n{row}\n",
    )
    with pytest.raises(RecordingError, match=r"l2\.csv:3: ") as e:
        run_import("tardis", [src], tmp_path / "out")
    assert message in str(e.value)
    report = run_import("tardis", [src], tmp_path / "out", skip_bad=True)
    assert (report.frames, report.bad_lines) == (1, {str(src): 1})


def test_incremental_rows_with_empty_price_or_amount_are_skipped(tmp_path):
    src = write(
        tmp_path,
        "l2.csv",
        f"{LEAD},is_snapshot,side,price,amount\nderibit,BTC-PERPETUAL,1,2,true,bid,1,10\n"
        "deribit,BTC-PERPETUAL,1,2,true,ask,,\nderibit,BTC-PERPETUAL,3,4,false,ask,,\n",
    )
    report = run_import("tardis", [src], tmp_path / "out")
    assert (report.frames, report.skipped, report.bad_lines) == (1, 3, {})


@pytest.mark.parametrize(
    "header",
    [
        "exchange,symbol,timestamp,local_timestamp,funding_rate",
        "symbol,exchange,timestamp,local_timestamp,id,side,price,amount",
        f"{LEAD},asks[0].price,asks[0].amount,bids[1].price,bids[1].amount",
        "",
    ],
)
def test_wrong_header_is_refused_even_with_skip_bad(tmp_path, header):
    src = write(tmp_path, "x.csv", f"{header}\nbitmex,XBTUSD,1,2,a,buy,1,1\n")
    with pytest.raises(RecordingError, match=r"x\.csv:\d: header is not a tardis\.dev"):
        run_import("tardis", [src], tmp_path / "out", skip_bad=True)
    assert not (tmp_path / "out").exists()


def test_gzip_csv_is_read(tmp_path):
    src = tmp_path / "t.csv.gz"
    with gzip.open(src, "wt") as fh:
        fh.write(f"{LEAD},id,side,price,amount\nbitmex,XBTUSD,1,2,x,buy,1,3\n")
    assert run_import("tardis", [src], tmp_path / "out").frames == 1


def test_continuing_files_of_one_symbol_keep_a_contiguous_sequence(tmp_path):
    header = f"{LEAD},is_snapshot,side,price,amount\n"
    day1 = write(
        tmp_path,
        "day1.csv",
        header + "deribit,BTC-PERPETUAL,1,10,true,bid,100,10\n"
        "deribit,BTC-PERPETUAL,2,20,false,bid,100,20\n",
    )
    day2 = write(
        tmp_path,
        "day2.csv",
        header + "deribit,BTC-PERPETUAL,3,30,false,bid,100,30\n"
        "deribit,BTC-PERPETUAL,4,40,false,bid,100,40\n",
    )
    run_import("tardis", [day2, day1], tmp_path / "out")
    got = [(m.te, m.seq) for m in messages(tmp_path / "out")]  # type: ignore[attr-defined]
    assert got == [(1000, 1), (2000, 2), (3000, 3), (4000, 4)]

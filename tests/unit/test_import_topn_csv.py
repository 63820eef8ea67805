"""arb import --format topn-csv, on hand-made top-N snapshot CSVs."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.core.errors import RecordingError
from arb.core.events import BookSnapshot
from arb.importers import run_import
from arb.importers.topn_csv import parse_timestamp
from arb.recording import Kind
from arb.recording import open_recording
from venues.normalized import NormalizedCodec

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent.parent / "data" / "import"
AA = DATA / "orderbook_aa.csv"
BB = DATA / "orderbook_bb.csv"
HEADER = "timestamp,symbol,b1,b2,bv1,bv2,a1,a2,av1,av2\n"
T0 = 1704164645 * 10**9  # 2024-01-02 03:04:05 UTC


def test_two_venues_merge_by_time_into_partial_snapshots(tmp_path):
    report = run_import("topn-csv", [AA, BB], tmp_path / "out")
    rec = open_recording(tmp_path / "out")
    got = list(rec.frames())
    assert (report.frames, report.instruments, report.skipped) == (4, 2, 2)
    assert (report.start_ns, report.end_ns) == (T0, T0 + 2 * 10**9)
    assert [(f.ts_recv - T0, f.venue, f.kind) for f in got] == [
        (0, "binance", Kind.NORMALIZED),
        (0, "huobi", Kind.NORMALIZED),
        (10**9, "huobi", Kind.NORMALIZED),
        (2 * 10**9, "binance", Kind.NORMALIZED),
    ]
    assert got[0].payload == (
        b'{"t":"snap","s":"ABCUSDT","seq":1,"te":%d,'
        b'"b":[["10.5","1"],["10.25","2.5"]],"a":[["10.75","3"],["11","4.125"]],"partial":true}'
        % T0
    )
    # Empty cells (a side shorter than N) are skipped.
    assert b'"b":[["10.5","1.5"]],' in got[3].payload
    insts = {i.venue: i for i in rec.manifest.instruments}
    assert (insts["binance"].symbol, insts["binance"].venue_symbol) == ("ABC-USDT", "ABCUSDT")
    assert (insts["binance"].price_precision, insts["binance"].size_precision) == (2, 3)
    assert (insts["huobi"].symbol, insts["huobi"].price_precision) == ("ABC-USDT", 2)
    assert insts["huobi"].size_precision == 2


def test_snapshots_decode_with_sequence_per_symbol(tmp_path):
    run_import("topn-csv", [AA, BB], tmp_path / "out")
    rec = open_recording(tmp_path / "out")
    codecs = {v: NormalizedCodec(v, rec.manifest.instruments) for v in rec.manifest.venues}
    events = [
        ev
        for f in rec.frames()
        for ev in codecs[f.venue].decode(f.kind, f.conn, f.payload, f.ts_recv)
    ]
    assert all(isinstance(ev, BookSnapshot) and ev.partial for ev in events)
    assert [(ev.venue, ev.seq) for ev in events] == [  # type: ignore[union-attr]
        ("binance", 1),
        ("huobi", 1),
        ("huobi", 2),
        ("binance", 2),
    ]
    assert events[0].bids == [(1050, 1000), (1025, 2500)]  # type: ignore[union-attr]


def test_n_is_read_from_the_header(tmp_path):
    src = tmp_path / "one.csv"
    src.write_text("timestamp,symbol,b1,bv1,a1,av1\n2024-01-02 03:04:05,XYZBTC.OKX,1,2,3,4\n")
    run_import("topn-csv", [src], tmp_path / "out")
    (inst,) = open_recording(tmp_path / "out").manifest.instruments
    assert (inst.venue, inst.symbol, inst.venue_symbol) == ("okx", "XYZ-BTC", "XYZ-BTC")


def test_unknown_venue_suffix_names_file_and_line(tmp_path):
    src = tmp_path / "orderbook_bnc.csv"
    src.write_text(HEADER + "2024-01-02 03:04:05,FOO.XX,1,1,1,1,2,2,1,1\n")
    with pytest.raises(RecordingError) as e:
        run_import("topn-csv", [src], tmp_path / "out")
    assert str(e.value) == f"{src}:2: symbol 'FOO.XX': unknown venue suffix 'XX'"
    assert not (tmp_path / "out").exists()


def test_symbol_without_suffix_needs_the_venue_option(tmp_path):
    src = tmp_path / "x.csv"
    src.write_text(HEADER + "2024-01-02 03:04:05,ABCUSDT,1,1,1,1,2,2,1,1\n")
    with pytest.raises(RecordingError, match="has no venue suffix; pass --venue"):
        run_import("topn-csv", [src], tmp_path / "out")
    run_import("topn-csv", [src], tmp_path / "out", venue="kraken")
    assert [i.venue for i in open_recording(tmp_path / "out").manifest.instruments] == ["kraken"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2024-01-02 03:04:06,ABCUSDT.BNC,1,1,1,1,2,2,1", "expected 10 cells, received 9"),
        ("yesterday,ABCUSDT.BNC,1,1,1,1,2,2,1,1", "bad timestamp 'yesterday'"),
        ("2024-01-02 03:04:06,ABCUSDT.BNC,1,x,1,1,2,2,1,1", "not a decimal number"),
        ("2024-01-02 03:04:06,ABCUSDT.BNC,1,,1,1,2,2,1,1", "lacks its pair"),
        ("2024-01-02 03:04:06,ABCUSDT.BNC.XX,1,1,1,1,2,2,1,1", "unknown venue suffix 'XX'"),
        ("2024-01-02 03:04:06,FOOBAR.BNC,1,1,1,1,2,2,1,1", "cannot split symbol 'FOOBAR'"),
    ],
)
def test_bad_rows_raise_or_are_counted(tmp_path, row, message):
    src = tmp_path / "book.csv"
    src.write_text(
        HEADER
        + "2024-01-02 03:04:05,ABCUSDT.BNC,1,1,1,1,2,2,1,1\n"
        + row
        + "\n2024-01-02 03:04:07,ABCUSDT.BNC,1,1,1,1,2,2,1,1\n"
    )
    with pytest.raises(RecordingError, match=r"book\.csv:3: ") as e:
        run_import("topn-csv", [src], tmp_path / "out")
    assert message in str(e.value)
    report = run_import("topn-csv", [src], tmp_path / "out", skip_bad=True)
    assert (report.frames, report.bad_lines) == (2, {str(src): 1})


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,symbol,b1,b2,bv1,bv2,a1,a2,av1\n",
        "time,symbol,b1,bv1,a1,av1\n",
        "timestamp,symbol,b1,a1,bv1,av1\n",
        "timestamp,symbol\n",
    ],
)
def test_wrong_header_is_refused(tmp_path, header):
    src = tmp_path / "h.csv"
    src.write_text(header + "2024-01-02 03:04:05,ABCUSDT.BNC,1,1,1,1\n")
    with pytest.raises(RecordingError, match=r"h\.csv:1: header is not timestamp,symbol"):
        run_import("topn-csv", [src], tmp_path / "out", skip_bad=True)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2021-08-20 00:00:00", 1629417600 * 10**9),
        ("2021-08-20T00:00:00.123456", 1629417600 * 10**9 + 123456000),
        ("2021-08-20 02:00:00+02:00", 1629417600 * 10**9),
        ("1629417600", 1629417600 * 10**9),
        ("1629417600123", 1629417600123 * 10**6),
        ("1629417600123456", 1629417600123456 * 10**3),
        ("1629417600123456789", 1629417600123456789),
    ],
)
def test_parse_timestamp(text, ns):
    assert parse_timestamp(text) == ns


@pytest.mark.parametrize("text", ["", "12345", "2021-13-01 00:00:00", "noon"])
def test_parse_timestamp_refuses_garbage(text):
    with pytest.raises(ValueError, match=r"."):
        parse_timestamp(text)

"""arb import --format hftbacktest, on hand-made Binance collector files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from arb.core.errors import RecordingError
from arb.importers import run_import
from arb.recording import Kind
from arb.recording import open_recording

pytestmark = pytest.mark.unit

SPOT_DEPTH = (
    b'{"stream":"abcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"ABCUSDT",'
    b'"U":11,"u":12,"b":[["10.50000000","1.00000000"]],"a":[["10.60000000","0.12500000"]]}}'
)
SPOT_TICKER = (
    b'{"stream":"abcusdt@bookTicker","data":{"u":13,"s":"ABCUSDT","b":"10.50000000",'
    b'"B":"1.00000000","a":"10.61000000","A":"2.00000000"}}'
)
SPOT_TRADE = (
    b'{"stream":"abcusdt@trade","data":{"e":"trade","E":2,"s":"ABCUSDT","t":1,'
    b'"p":"10.55500000","q":"0.00100000","T":2,"m":true,"M":true}}'
)
SPOT_SNAPSHOT = b'{"lastUpdateId":10,"bids":[["10.40000000","5.00000000"]],"asks":[]}'
USDM_DEPTH = (
    b'{"stream":"abcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"ABCUSDT",'
    b'"U":5,"u":6,"pu":4,"b":[["10.50","1.000"]],"a":[]}}'
)
USDM_SNAPSHOT = b'{"lastUpdateId":5,"E":1,"T":1,"bids":[["10.40","2"]],"asks":[]}'
CM_DEPTH = (
    b'{"stream":"abcusd_perp@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,'
    b'"s":"ABCUSD_PERP","ps":"ABCUSD","U":5,"u":6,"pu":4,"b":[["10.5","3"]],"a":[]}}'
)
CM_SNAPSHOT = (
    b'{"lastUpdateId":5,"E":1,"T":1,"symbol":"ABCUSD_PERP","pair":"ABCUSD",'
    b'"bids":[["10.4","2"]],"asks":[]}'
)


def write_gz(path: Path, lines: list[tuple[int, bytes]]) -> Path:
    with gzip.open(path, "wb") as fh:
        for ts, raw in lines:
            fh.write(b"%d %s\n" % (ts, raw))
    return path


def frames(out: Path):
    return list(open_recording(out).frames())


def test_spot_file_keeps_payloads_and_maps_snapshot_to_rest_path(tmp_path):
    src = write_gz(
        tmp_path / "abcusdt_1.gz",
        [(100, SPOT_DEPTH), (200, SPOT_SNAPSHOT), (300, SPOT_TICKER), (400, SPOT_TRADE)],
    )
    report = run_import("hftbacktest", [src], tmp_path / "out")
    assert (report.frames, report.instruments, report.start_ns, report.end_ns) == (4, 1, 100, 400)
    got = frames(tmp_path / "out")
    assert [(f.ts_recv, f.venue, f.conn, f.kind) for f in got] == [
        (100, "binance", "ws0", Kind.RECV),
        (200, "binance", "/api/v3/depth?symbol=ABCUSDT", Kind.REST),
        (300, "binance", "ws0", Kind.RECV),
        (400, "binance", "ws0", Kind.RECV),
    ]
    assert [f.payload for f in got] == [SPOT_DEPTH, SPOT_SNAPSHOT, SPOT_TICKER, SPOT_TRADE]


def test_precisions_come_from_all_price_and_size_strings(tmp_path):
    src = write_gz(tmp_path / "a.gz", [(1, SPOT_DEPTH), (2, SPOT_TICKER), (3, SPOT_TRADE)])
    run_import("hftbacktest", [src], tmp_path / "out")
    (inst,) = open_recording(tmp_path / "out").manifest.instruments
    assert (inst.venue, inst.symbol, inst.venue_symbol) == ("binance", "ABC-USDT", "ABCUSDT")
    # 10.555 (trade price) and 0.125 / 0.001 (sizes) are the most precise strings.
    assert (inst.price_precision, inst.size_precision) == (3, 3)
    assert (inst.tick_size, inst.lot_size, inst.source) == ("0.001", "0.001", "inferred")


def test_snapshot_before_any_stream_line_waits_for_the_symbol(tmp_path):
    src = write_gz(tmp_path / "a.gz", [(1, SPOT_SNAPSHOT), (2, SPOT_TICKER), (3, SPOT_DEPTH)])
    run_import("hftbacktest", [src], tmp_path / "out")
    got = frames(tmp_path / "out")
    assert [f.conn for f in got] == ["/api/v3/depth?symbol=ABCUSDT", "ws0", "ws0"]
    assert [f.ts_recv for f in got] == [1, 2, 3]


def test_usdm_is_inferred_from_pu(tmp_path):
    src = write_gz(tmp_path / "a.gz", [(1, USDM_SNAPSHOT), (2, USDM_DEPTH)])
    run_import("hftbacktest", [src], tmp_path / "out")
    rec = open_recording(tmp_path / "out")
    assert [(f.venue, f.conn) for f in rec.frames()] == [
        ("binance-usdm", "/fapi/v1/depth?symbol=ABCUSDT"),
        ("binance-usdm", "ws0"),
    ]
    (inst,) = rec.manifest.instruments
    assert (inst.symbol, inst.price_precision, inst.size_precision) == ("ABC-USDT-PERP", 1, 0)


def test_coinm_is_inferred_from_ps_and_snapshot_symbol_is_used(tmp_path):
    src = write_gz(tmp_path / "a.gz", [(1, CM_DEPTH), (2, CM_SNAPSHOT)])
    run_import("hftbacktest", [src], tmp_path / "out")
    rec = open_recording(tmp_path / "out")
    assert [f.conn for f in rec.frames()] == ["ws0", "/dapi/v1/depth?symbol=ABCUSD_PERP"]
    (inst,) = rec.manifest.instruments
    assert (inst.venue, inst.symbol, inst.inverse, inst.contract_value) == (
        "binance-coinm",
        "ABC-USD-PERP",
        True,
        "10",
    )


def test_venue_option_overrides_inference(tmp_path):
    src = write_gz(tmp_path / "a.gz", [(1, SPOT_SNAPSHOT), (2, USDM_DEPTH)])
    run_import("hftbacktest", [src], tmp_path / "out", venue="binance-usdm")
    assert frames(tmp_path / "out")[0].conn == "/fapi/v1/depth?symbol=ABCUSDT"


def test_non_binance_venue_option_is_refused(tmp_path):
    src = write_gz(tmp_path / "a.gz", [(1, SPOT_DEPTH)])
    with pytest.raises(RecordingError, match="not a Binance venue"):
        run_import("hftbacktest", [src], tmp_path / "out", venue="okx")


def test_continuing_files_merge_in_time_order(tmp_path):
    a = write_gz(tmp_path / "x_20240808.gz", [(1, SPOT_SNAPSHOT), (3, SPOT_DEPTH)])
    b = write_gz(tmp_path / "x_20240809.gz", [(5, SPOT_TICKER), (7, SPOT_TRADE)])
    c = write_gz(tmp_path / "usdm.gz", [(2, USDM_DEPTH), (6, USDM_DEPTH)])
    report = run_import("hftbacktest", [b, c, a], tmp_path / "out")
    got = frames(tmp_path / "out")
    assert [f.ts_recv for f in got] == [1, 2, 3, 5, 6, 7]
    assert [f.venue for f in got] == ["binance", "binance-usdm", "binance"] * 2
    assert report.instruments == 2


def test_malformed_line_names_file_and_line(tmp_path):
    src = write_gz(tmp_path / "bad.gz", [(1, SPOT_DEPTH), (2, b'{"stream": broken')])
    with pytest.raises(RecordingError, match=r"bad\.gz:2: malformed JSON"):
        run_import("hftbacktest", [src], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"no-timestamp", "expected '<receive time ns> <json>'"),
        (b"12x {}", "expected '<receive time ns> <json>'"),
        (b'3 {"result":null,"id":1}', "neither a combined-stream message"),
        (b'3 {"stream":"abc@depth","data":{"s":"ABC_FOO"}}', "symbol 'ABC_FOO'"),
    ],
)
def test_bad_lines_raise_or_are_counted(tmp_path, line, message):
    src = tmp_path / "f.gz"
    with gzip.open(src, "wb") as fh:
        fh.write(b"1 " + SPOT_DEPTH + b"\n" + line + b"\n2 " + SPOT_TICKER + b"\n")
    with pytest.raises(RecordingError, match=r"f\.gz:2: ") as e:
        run_import("hftbacktest", [src], tmp_path / "out")
    assert message in str(e.value)
    report = run_import("hftbacktest", [src], tmp_path / "out", skip_bad=True)
    assert (report.frames, report.bad_lines) == (2, {str(src): 1})


def test_snapshot_without_any_symbol_is_a_bad_line(tmp_path):
    src = write_gz(tmp_path / "a.gz", [(1, SPOT_SNAPSHOT)])
    with pytest.raises(RecordingError, match=r"a\.gz:1: depth snapshot names no symbol"):
        run_import("hftbacktest", [src], tmp_path / "out")


def test_truncated_gzip_raises_or_keeps_what_was_read(tmp_path):
    full = write_gz(tmp_path / "full.gz", [(i, SPOT_DEPTH) for i in range(1, 2001)])
    cut = tmp_path / "cut.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(RecordingError, match=r"cut\.gz:\d+: truncated or corrupt gzip"):
        run_import("hftbacktest", [cut], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    report = run_import("hftbacktest", [cut], tmp_path / "out", skip_bad=True)
    assert report.bad_lines == {str(cut): 1}
    assert 0 < report.frames < 2000
    assert [f.ts_recv for f in frames(tmp_path / "out")] == list(range(1, report.frames + 1))


def test_plain_text_input_is_accepted(tmp_path):
    src = tmp_path / "plain.txt"
    src.write_bytes(b"1 " + SPOT_DEPTH + b"\r\n\n2 " + SPOT_TICKER + b"\n")
    report = run_import("hftbacktest", [src], tmp_path / "out")
    assert (report.frames, report.skipped) == (2, 1)
    assert frames(tmp_path / "out")[0].payload == SPOT_DEPTH

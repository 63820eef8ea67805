"""arb import --format cryptofeed, on hand-made cryptofeed raw-data files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from arb.core.errors import RecordingError
from arb.importers import run_import
from arb.recording import Kind
from arb.recording import open_recording

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent.parent / "data" / "import"
WS = DATA / "OKX.ws.handmade"
REST = DATA / "OKX.rest.handmade"


def test_ws_file_gives_connect_sent_and_received_frames_with_exact_times(tmp_path):
    report = run_import("cryptofeed", [WS], tmp_path / "out")
    got = list(open_recording(tmp_path / "out").frames())
    assert report.frames == 6
    assert [(f.venue, f.conn, f.kind) for f in got] == [("okx", "ws0", Kind.OPEN)] + [
        ("okx", "ws0", Kind.SENT)
    ] + [("okx", "ws0", Kind.RECV)] * 4
    assert [f.ts_recv for f in got] == [
        1700000000100000000,
        1700000000200000000,
        1700000000300000100,
        1700000000400000000,
        1700000000500000000,
        1700000000600000000,
    ]
    assert got[0].payload == b"wss://ws.okx.com:8443/ws/v5/public"
    lines = WS.read_bytes().splitlines()
    assert got[1].payload == lines[1].split(b": ", 1)[1]
    assert [f.payload for f in got[2:]] == [ln.split(b": ", 1)[1] for ln in lines[2:]]


def test_rest_file_instruments_go_to_manifest_and_other_responses_to_frames(tmp_path):
    report = run_import("cryptofeed", [WS, REST], tmp_path / "out")
    rec = open_recording(tmp_path / "out")
    got = list(rec.frames())
    assert report.frames == 7
    assert report.skipped == 3  # two instrument lists and the configuration line
    assert (got[0].kind, got[0].conn, got[0].ts_recv) == (
        Kind.REST,
        "/api/v5/market/books?instId=BTC-USDT&sz=5",
        1699999999700000000,
    )
    assert got[0].payload.startswith(b'{"code":"0","msg":"","data":[{"asks"')
    # LTC-USDT is listed by the REST response but not named by the WebSocket data.
    assert [(i.symbol, i.venue_symbol) for i in rec.manifest.instruments] == [
        ("BTC-USDT", "BTC-USDT"),
        ("ETH-USD-PERP", "ETH-USD-SWAP"),
    ]
    eth = rec.manifest.instruments[1]
    assert (eth.inverse, eth.contract_value, eth.source) == (True, "10", "venue")
    notes = rec.manifest.notes
    assert (
        notes["configuration OKX.rest.handmade"]
        == '{"l2_book":["BTC-USDT"],"trades":["ETH-USD-PERP"]}'
    )
    assert notes["connections"] == "ws0=wss://ws.okx.com:8443/ws/v5/public"
    assert "2 of 3 instruments" in notes["instruments"]
    assert (report.start_ns, report.end_ns) == (1699999999700000000, 1700000000600000000)


def test_rest_file_alone_keeps_every_instrument(tmp_path):
    report = run_import("cryptofeed", [REST], tmp_path / "out")
    assert (report.frames, report.instruments) == (1, 3)


def test_venue_comes_from_option_when_the_file_name_does_not_tell(tmp_path):
    src = tmp_path / "FOO.ws.1.0"
    shutil.copy(WS, src)
    with pytest.raises(RecordingError, match=r"FOO\.ws\.1\.0: cannot tell the venue .* 'FOO'"):
        run_import("cryptofeed", [src], tmp_path / "out")
    report = run_import("cryptofeed", [src], tmp_path / "out", venue="okx")
    assert report.frames == 6


def test_each_file_and_url_gets_its_own_connection_id(tmp_path):
    other = tmp_path / "OKX.ws.2.0"
    other.write_bytes(
        b"wss://ws.okx.com:8443/ws/v5/business <-> 1700000000.15\n"
        b'1700000000.45: {"event":"subscribe"}\n'
    )
    run_import("cryptofeed", [WS, other], tmp_path / "out")
    got = list(open_recording(tmp_path / "out").frames())
    assert [(f.ts_recv // 10_000_000 % 100, f.conn) for f in got] == [
        (10, "ws0"),
        (15, "ws1"),
        (20, "ws0"),
        (30, "ws0"),
        (40, "ws0"),
        (45, "ws1"),
        (50, "ws0"),
        (60, "ws0"),
    ]


def test_bytes_literal_messages_are_stored_as_their_bytes(tmp_path):
    src = tmp_path / "HUOBI.ws.1.0"
    src.write_bytes(b"wss://api.huobi.pro/ws <-> 1.5\n2.5: b'\\x1f\\x8b\\x08\\x00\\n'\n")
    run_import("cryptofeed", [src], tmp_path / "out")
    got = list(open_recording(tmp_path / "out").frames())
    assert got[1].venue == "huobi"
    assert got[1].payload == b"\x1f\x8b\x08\x00\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"1700000000.35 no separator", "received line is not"),
        (b"1700000000.1234567891: {}", "more than 9 decimals"),
        (b"17000x0000.35: {}", "not a decimal number"),
        (b"wss://ws.okx.com:8443/ws/v5/public <- 1700000000.35 {}", "sent line is not"),
        (b"wss://ws.okx.com:8443/ws/v5/public ?? 1700000000.35", "not a cryptofeed"),
        (b'https://www.okx.com/api/v5/public/instruments -> 1.5: {"code":"1"}', "code 1"),
        (b"https://www.okx.com/api/v5/public/instruments -> 1.5: [", "malformed response"),
        (b"https://www.okx.com/api/v5/market/books -> 1.5 {}", "REST line is not"),
    ],
)
def test_bad_lines_name_file_and_line_or_are_counted(tmp_path, line, message):
    src = tmp_path / "OKX.ws.9.0"
    src.write_bytes(WS.read_bytes() + line + b"\n" + b'1700000000.9: {"event":"x"}\n')
    with pytest.raises(RecordingError, match=r"OKX\.ws\.9\.0:7: ") as e:
        run_import("cryptofeed", [src], tmp_path / "out")
    assert message in str(e.value)
    assert not (tmp_path / "out").exists()
    report = run_import("cryptofeed", [src], tmp_path / "out", skip_bad=True)
    assert (report.frames, report.bad_lines) == (7, {str(src): 1})
    assert "OKX.ws.9.0: 1" in open_recording(tmp_path / "out").manifest.notes["bad_lines"]

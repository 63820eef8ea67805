import gzip

import msgspec
import pytest

from arb.core.errors import RecordingError
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.recording import MANIFEST
from arb.recording import Kind
from arb.recording import RecordingWriter
from arb.recording import open_recording

INST = Instrument.create(
    venue="okx",
    symbol="BTC-USDT",
    venue_symbol="BTC-USDT",
    kind=InstrumentKind.SPOT,
    base="BTC",
    quote="USDT",
    tick_size="0.1",
    lot_size="0.00000001",
)


def write(path, frames, **kw):
    w = RecordingWriter(path, source="test", **kw)
    w.add_instrument(INST)
    for f in frames:
        w.write(*f)
    return w.close()


def test_frames_round_trip_byte_for_byte(tmp_path):
    payloads = [b'{"a":"0.5000"}', b"pong", b"line\nbreak", b"\x00\xffbin\r", b"tab\there"]
    frames = [(i + 10, "okx", "ws0", Kind.RECV, p) for i, p in enumerate(payloads)]
    m = write(tmp_path / "r", frames)
    rec = open_recording(tmp_path / "r")
    got = list(rec.frames())
    assert [f.payload for f in got] == payloads
    assert [f.ts_recv for f in got] == [10, 11, 12, 13, 14]
    assert {f.kind for f in got} == {Kind.RECV}
    assert (m.frames, m.start_ns, m.end_ns, m.venues) == (5, 10, 14, ["okx"])
    assert rec.instruments("okx") == [INST]


def test_manifest_keeps_instrument_metadata_exactly(tmp_path):
    write(tmp_path / "r", [(1, "okx", "ws0", Kind.RECV, b"{}")])
    raw = msgspec.json.decode((tmp_path / "r" / MANIFEST).read_bytes())
    assert raw["format"] == "arb-rec"
    assert raw["version"] == 1
    assert raw["instruments"][0]["tick_size"] == "0.1"
    assert raw["instruments"][0]["price_precision"] == 1


def test_writing_into_existing_recording_is_refused(tmp_path):
    write(tmp_path / "r", [])
    with pytest.raises(RecordingError, match="already holds a recording"):
        RecordingWriter(tmp_path / "r", source="t")


def test_rotation_splits_files_and_reads_in_order(tmp_path):
    frames = [(i, "binance", "ws0", Kind.RECV, b"x" * 100) for i in range(50)]
    m = write(tmp_path / "r", frames, rotate_bytes=1_000)
    assert len(m.files) > 3
    assert [f.ts_recv for f in open_recording(tmp_path / "r").frames()] == list(range(50))


def test_same_frames_give_same_bytes(tmp_path):
    frames = [(i, "okx", "ws0", Kind.RECV, b'{"x":1}') for i in range(10)]
    write(tmp_path / "a", frames)
    write(tmp_path / "b", frames)
    a = (tmp_path / "a" / "frames-000000.arb.gz").read_bytes()
    assert a == (tmp_path / "b" / "frames-000000.arb.gz").read_bytes()


def test_truncated_frames_file_names_file_and_line(tmp_path):
    frames = [(i, "okx", "ws0", Kind.RECV, b'{"x":%d}' % i * 50) for i in range(2000)]
    write(tmp_path / "r", frames)
    f = tmp_path / "r" / "frames-000000.arb.gz"
    f.write_bytes(f.read_bytes()[:-200])
    with pytest.raises(RecordingError, match=r"frames-000000\.arb\.gz:\d+: unreadable"):
        list(open_recording(tmp_path / "r").frames())


def test_malformed_line_names_file_and_line(tmp_path):
    write(tmp_path / "r", [(1, "okx", "ws0", Kind.RECV, b"{}")])
    f = tmp_path / "r" / "frames-000000.arb.gz"
    with gzip.open(f, "ab") as fh:
        fh.write(b"notanumber\tokx\tws0\t<\t{}\n")
    with pytest.raises(RecordingError, match=r"frames-000000\.arb\.gz:3: malformed"):
        list(open_recording(tmp_path / "r").frames())


def test_unknown_version_is_refused(tmp_path):
    write(tmp_path / "r", [])
    p = tmp_path / "r" / MANIFEST
    p.write_bytes(p.read_bytes().replace(b'"version": 1', b'"version": 99'))
    with pytest.raises(RecordingError, match=r"v99 is not supported"):
        open_recording(tmp_path / "r")


def test_directory_without_manifest_is_not_a_recording(tmp_path):
    with pytest.raises(RecordingError, match=r"no manifest\.json"):
        open_recording(tmp_path)


def test_bad_kind_and_tabbed_venue_are_refused(tmp_path):
    w = RecordingWriter(tmp_path / "r", source="t")
    with pytest.raises(ValueError, match="frame kind"):
        w.write(1, "okx", "ws0", "?", b"")
    with pytest.raises(ValueError, match="tabs"):
        w.write(1, "ok\tx", "ws0", Kind.RECV, b"")
    w.close()

"""The arb command line: help for every command, synth -> verify, exit codes, errors."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from arb.cli import build_parser
from arb.cli import main

pytestmark = pytest.mark.cli
COMMANDS = [
    "verify",
    "import",
    "synth",
    "replay",
    "record",
    "run",
    "okx-sandbox",
    "keys",
    "check-config",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "usage: arb " + command in capsys.readouterr().out


def test_parser_lists_every_command():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices or ()) == sorted(COMMANDS)


def test_console_script_runs_as_module():
    out = subprocess.run(
        [sys.executable, "-m", "arb", "--help"], capture_output=True, text=True, check=True
    )
    assert "verify" in out.stdout


@pytest.fixture(scope="module")
def synth_recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "rec"
    assert main(["synth", "--out", str(out), "--seconds", "40", "--seed", "3"]) == 0
    return out


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_synth_market_verifies_clean(synth_recording, capsys):
    capsys.readouterr()
    assert main(["verify", str(synth_recording)]) == 0
    r = last_json(capsys)
    for key in (
        "frames",
        "book_updates",
        "books",
        "snapshots",
        "gaps",
        "resyncs",
        "checksum_ok",
        "checksum_failed",
        "checksum_absent",
        "crossed",
        "errors",
    ):
        assert isinstance(r[key], int), key
    assert r["books"] == 4  # 2 venues x 2 symbols
    assert r["checksum_ok"] > 100
    assert (r["gaps"], r["checksum_failed"], r["crossed"], r["errors"]) == (0, 0, 0, 0)
    assert r["unsynced_books"] == 0


def test_synth_is_deterministic(synth_recording, tmp_path):
    again = tmp_path / "again"
    assert main(["synth", "--out", str(again), "--seconds", "40", "--seed", "3"]) == 0
    for name in ("frames-000000.arb.gz", "manifest.json"):
        assert (again / name).read_bytes() == (synth_recording / name).read_bytes()


def _rewrite(src: Path, dst: Path, mutate) -> None:
    """Copy a recording, passing its frame lines through ``mutate(lines) -> lines``."""
    dst.mkdir()
    (dst / "manifest.json").write_bytes((src / "manifest.json").read_bytes())
    with gzip.open(src / "frames-000000.arb.gz", "rb") as fh:
        lines = fh.read().split(b"\n")
    with gzip.open(dst / "frames-000000.arb.gz", "wb") as fh:
        fh.write(b"\n".join(mutate(lines)))


def test_dropped_frame_is_a_gap_and_fails_unless_allowed(synth_recording, tmp_path, capsys):
    def drop_one_okx_update(lines):
        idx = [i for i, ln in enumerate(lines) if b'"action":"update"' in ln]
        return lines[: idx[50]] + lines[idx[50] + 1 :]

    _rewrite(synth_recording, tmp_path / "gap", drop_one_okx_update)
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "gap")]) == 1
    r = last_json(capsys)
    assert r["gaps"] == 1
    assert r["resyncs"] >= 1
    assert main(["verify", "--allow-gaps", str(tmp_path / "gap")]) == 0


def test_malformed_frame_is_counted_not_fatal(synth_recording, tmp_path, capsys):
    def corrupt_one(lines):
        idx = [i for i, ln in enumerate(lines) if b'"action":"update"' in ln][10]
        head, _, _ = lines[idx].rpartition(b"\t")
        return [*lines[:idx], head + b"\t{not json", *lines[idx + 1 :]]

    _rewrite(synth_recording, tmp_path / "bad", corrupt_one)
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "bad")]) == 1
    r = last_json(capsys)
    assert r["errors"] == 1
    # the lost update breaks the seqId chain: the book is resynced, not patched
    assert r["gaps"] == 1


def test_unreadable_recording_exits_2_with_message(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_bad_config_exits_2_naming_key(tmp_path, capsys):
    p = tmp_path / "c.toml"
    p.write_text('[[venues]]\nid = "okx"\nkind = "okx"\nfee = 1\n')
    assert main(["check-config", str(p)]) == 2
    assert "venues[0].fee: unknown key" in capsys.readouterr().err


def test_synth_from_config(tmp_path, capsys):
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "cfg"
    assert (
        main(
            [
                "synth",
                "--config",
                str(root / "configs/default.toml"),
                "--out",
                str(out),
                "--seconds",
                "5",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert {i["symbol"] for i in manifest["instruments"]} == {"BTC-USDT", "ETH-USDT"}


def test_import_bad_input_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "top.csv"
    bad.write_text(
        "timestamp,symbol,b1,bv1,a1,av1\n2021-08-20 00:00:00,LINKUSDT.BNC,1,2,3,4\n"
        "2021-08-20 00:00:01,LINKUSDT.ZZZ,1,2,3,4\n"
    )
    assert main(["import", "--format", "topn-csv", "--out", str(tmp_path / "o"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "top.csv:3" in err
    code = main(
        ["import", "--format", "topn-csv", "--skip-bad", "--out", str(tmp_path / "o2"), str(bad)]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] == 1


def test_frames_of_a_venue_without_codec_are_reported_unchecked(tmp_path, capsys):
    from arb.recording import Kind
    from arb.recording import RecordingWriter

    w = RecordingWriter(tmp_path / "r", source="test")
    w.write(1, "kraken", "ws0", Kind.RECV, b'{"channel":"book"}')
    w.write(2, "kraken", "ws0", Kind.OPEN, b"wss://example.invalid")
    w.close()
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "r")]) == 0
    r = last_json(capsys)
    assert (r["frames"], r["unsupported_frames"], r["control_frames"]) == (2, 1, 1)

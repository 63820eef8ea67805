"""``arb record`` against the OKX sandbox on loopback: the recording replays into clean books.

Each test records a few seconds of the sandbox's public WebSocket (books + trades) and checks
the result with ``arb verify``'s own function: books synced, no gap, no error, the connect and
subscribe frames present; rotation by time and by size gives several files that all replay;
the command line stops cleanly on SIGINT; a sequence gap is resynced from a recorded REST book.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arb.cli import main
from arb.config import load_config
from arb.record import RecordReport
from arb.record import record
from arb.recording import HEADER
from arb.recording import Kind
from arb.recording import Recording
from arb.recording import open_recording
from arb.verify import VerifyReport
from arb.verify import verify_recording
from tests.integration._okx_helpers import run
from venues.okx.sandbox import Faults
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import start_sandbox

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, sb: Sandbox) -> Path:
    path.write_text(
        f"""
[[venues]]
id = "okx"
kind = "okx"
rest_url = "{sb.base_url}"
ws_url = "{sb.ws_public_url}"

[[venues]]
id = "paper"
kind = "sim"

[[pairs]]
symbol = "BTC-USDT"
venues = ["okx", "paper"]

[[pairs]]
symbol = "ETH-USDT"
venues = ["okx"]

[[pairs]]
symbol = "BTC-USDT-PERP"
venues = ["okx"]
"""
    )
    return path


def record_sandbox(
    tmp_path: Path, faults: Faults | None = None, **kwargs: Any
) -> tuple[RecordReport, list[str]]:
    notes: list[str] = []

    async def go() -> RecordReport:
        sb = await start_sandbox(faults=faults)
        try:
            cfg = load_config(write_config(tmp_path / "cfg.toml", sb))
            return await record(cfg, tmp_path / "rec", note=notes.append, **kwargs)
        finally:
            await sb.close()

    return run(go()), notes


def verify_clean(rec: Recording, *, allow_gaps: bool = False, trades: bool = True) -> VerifyReport:
    report, books, errors = verify_recording(rec)
    assert report.frames == rec.manifest.frames > 0
    assert errors == []
    assert report.failures(allow_gaps=allow_gaps) == []
    assert {(b.symbol, b.channel) for b in books} == {("BTC-USDT", "books"), ("ETH-USDT", "books")}
    assert all(b.synced_at_end for b in books)
    assert report.unsynced_books == 0
    assert report.deltas > 0
    if trades:  # the sandbox prints a public trade about once a second
        assert report.trades > 0
    return report


def test_record_sandbox_books_and_trades_verify_clean(tmp_path):
    report, notes = record_sandbox(tmp_path, duration_s=2.0)
    assert report.stopped_by == "duration"
    assert report.files == ["frames-000000.arb.gz"]
    (okx,) = report.venues
    assert okx.symbols == ["BTC-USDT", "ETH-USDT"]
    assert okx.connects == 1
    assert okx.errors == 0
    assert any("paper" in n and "skipped (kind sim)" in n for n in notes)
    assert any("BTC-USDT-PERP" in n and "not listed" in n for n in notes)

    rec = open_recording(tmp_path / "rec")
    assert rec.manifest.venues == ["okx"]
    assert [i.symbol for i in rec.instruments("okx")] == ["BTC-USDT", "ETH-USDT"]
    assert "checkpoint" not in rec.manifest.notes
    r = verify_clean(rec)
    assert r.gaps == 0
    frames = list(rec.frames())
    kinds = [f.kind for f in frames]
    assert kinds[0] == Kind.REST  # the instruments first: SPOT, then SWAP (for the PERP)
    assert frames[0].conn == "/api/v5/public/instruments?instType=SPOT"
    assert frames[1].conn == "/api/v5/public/instruments?instType=SWAP"
    assert Kind.OPEN in kinds
    assert kinds[-1] == Kind.CLOSE
    opened = next(f for f in frames if f.kind == Kind.OPEN)
    assert opened.payload.endswith(b"/ws/v5/public")
    subscribes = [f.payload for f in frames if f.kind == Kind.SENT]
    assert any(b'"op":"subscribe"' in p and b'"channel":"trades"' in p for p in subscribes)
    assert any(b'"op":"subscribe"' in p and b'"channel":"books"' in p for p in subscribes)


@pytest.mark.parametrize(
    "rotate", [{"rotate_s": 0.3}, {"rotate_bytes": 8 * 1024}], ids=["by-time", "by-size"]
)
def test_rotation_gives_several_files_that_all_replay(tmp_path, rotate):
    report, _ = record_sandbox(tmp_path, duration_s=2.0, **rotate)
    rec = open_recording(tmp_path / "rec")
    assert len(rec.manifest.files) >= 3
    assert rec.manifest.files == report.files
    assert rec.manifest.files == [f"frames-{n:06d}.arb.gz" for n in range(len(report.files))]
    assert sorted(p.name for p in (tmp_path / "rec").glob("frames-*")) == rec.manifest.files
    for name in rec.manifest.files:  # each file stands alone: header, then whole frames
        with gzip.open(tmp_path / "rec" / name, "rb") as fh:
            lines = fh.read().splitlines(keepends=True)
        assert lines[0] == HEADER
        assert len(lines) >= 2
    verify_clean(rec)


@contextlib.contextmanager
def sandbox_in_thread(faults: Faults | None = None) -> Iterator[Sandbox]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        sb = asyncio.run_coroutine_threadsafe(start_sandbox(faults=faults), loop).result(10)
        try:
            yield sb
        finally:
            asyncio.run_coroutine_threadsafe(sb.close(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_record_command_stops_cleanly_on_sigint(tmp_path):
    with sandbox_in_thread() as sb:
        cfg = write_config(tmp_path / "cfg.toml", sb)
        out = tmp_path / "rec"
        proc = subprocess.Popen(
            [sys.executable, "-m", "arb", "record", str(cfg), "--out", str(out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 10
            while not (out / "frames-000000.arb.gz").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.5)
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr
    assert "skipped (kind sim)" in stdout
    assert '"stopped_by":"signal SIGINT"' in stdout
    verify_clean(open_recording(out))


def test_a_killed_recorder_leaves_the_files_closed_before_readable(tmp_path):
    with sandbox_in_thread() as sb:
        cfg = write_config(tmp_path / "cfg.toml", sb)
        out = tmp_path / "rec"
        argv = [sys.executable, "-m", "arb", "record", str(cfg), "--out", str(out)]
        proc = subprocess.Popen(
            [*argv, "--rotate-s", "0.3"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not (out / "frames-000003.arb.gz").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.kill()  # SIGKILL: no clean close, the last file is cut short
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    rec = open_recording(out)
    assert "checkpoint" in rec.manifest.notes
    assert len(rec.manifest.files) >= 3
    # under a second of checkpointed files: books, not necessarily a public trade yet
    verify_clean(rec, trades=False)


def test_record_command_with_duration_in_process(tmp_path, capsys):
    with sandbox_in_thread() as sb:
        cfg = write_config(tmp_path / "cfg.toml", sb)
        out = tmp_path / "rec"
        code = main(
            ["record", str(cfg), "--out", str(out), "--duration", "1.5", "--rotate-s", "0.5"]
        )
    assert code == 0
    assert '"stopped_by":"duration"' in capsys.readouterr().out
    rec = open_recording(out)
    assert len(rec.manifest.files) >= 2
    verify_clean(rec)


def test_record_command_refuses_an_existing_recording(tmp_path, capsys):
    with sandbox_in_thread() as sb:
        cfg = write_config(tmp_path / "cfg.toml", sb)
        out = tmp_path / "rec"
        assert main(["record", str(cfg), "--out", str(out), "--duration", "0.5"]) == 0
        capsys.readouterr()
        assert main(["record", str(cfg), "--out", str(out), "--duration", "0.5"]) == 2
    assert "already holds a recording" in capsys.readouterr().err


def test_a_sequence_gap_is_resynced_from_a_recorded_rest_book(tmp_path):
    report, _ = record_sandbox(tmp_path, faults=Faults(books_seq_gap_after=5), duration_s=2.0)
    (okx,) = report.venues
    assert okx.gaps >= 1
    assert okx.resyncs >= 1
    rec = open_recording(tmp_path / "rec")
    books = [f for f in rec.frames() if f.kind == Kind.REST and "/market/books" in f.conn]
    assert books
    r = verify_clean(rec, allow_gaps=True)
    assert r.gaps >= 1  # the venue's gap is in the recording; the recorded snapshot heals it
    assert r.resyncs >= 1

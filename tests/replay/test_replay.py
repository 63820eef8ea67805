"""``arb replay`` end to end: the whole engine on recordings with simulated venues.

Determinism (same journal digest twice), the report's contents, a replay killed midway
(the journal stays consistent and readable), a graceful stop on SIGTERM, the kill-switch file,
and the Binance-Huobi LINK/USDT recording from ../shared/data.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from arb.config import load_config
from arb.engine import Engine
from arb.importers import run_import
from arb.journal import Journal
from arb.journal import open_journal
from arb.recording import open_recording
from arb.replay import instruments_for
from arb.replay import run_replay
from arb.synth import generate

ROOT = Path(__file__).resolve().parents[2]
SYNTH_CFG = ROOT / "configs" / "replay-synth.toml"
LINK_CFG = ROOT / "configs" / "replay-linkusdt.toml"
REQUIRED_KEYS = {
    "frames",
    "opportunities",
    "trades",
    "legs_filled",
    "partial_fills",
    "rollbacks",
    "rollback_loss_quote",
    "max_unhedged_notional_quote",
    "unhedged_notional_end_quote",
    "fees_quote",
    "pnl_quote",
    "refusals",
    "decision_latency_us",
    "journal_sha256",
}


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    """The market of configs/replay-synth.toml (300 s, seed 7), written once per module."""
    cfg = load_config(SYNTH_CFG)
    out = tmp_path_factory.mktemp("synth") / "rec"
    generate(out, seconds=cfg.synth.seconds, seed=cfg.synth.seed, symbols=cfg.symbols)
    return out


@pytest.fixture(scope="module")
def synth_run(synth, tmp_path_factory):
    out = tmp_path_factory.mktemp("run1")
    report = run_replay(load_config(SYNTH_CFG), SYNTH_CFG, [synth], out)
    return out, report


def _cfg_with(path: Path, tmp_path: Path, **sections: dict[str, object]) -> Path:
    """A copy of the config at ``path`` with TOML tables appended/overridden (simple keys)."""
    text = path.read_text()
    cfg = load_config(path)
    for table, values in sections.items():
        current = msgspec.to_builtins(getattr(cfg, table))
        current.update(values)
        lines = [f"{k} = {json.dumps(v)}" for k, v in current.items() if not isinstance(v, dict)]
        start = text.index(f"[{table}]")
        end = text.find("\n[", start + 1)
        text = text[:start] + f"[{table}]\n" + "\n".join(lines) + "\n" + text[end:]
    out = tmp_path / path.name
    out.write_text(text)
    return out


def test_replay_of_the_synthetic_market_trades_and_ends_hedged(synth_run):
    out, report = synth_run
    data = json.loads((out / "report.json").read_text())
    assert data.keys() >= REQUIRED_KEYS
    assert data["frames"] > 10_000
    assert data["trades"] > 0
    assert data["legs_filled"] > 0
    assert data["unhedged_notional_end_quote"] == 0
    assert data["unfinished_trades"] == 0
    assert data["ledger_matches_venues"] is True
    assert data["decision_latency_us"]["n"] > 0
    assert 0 < data["decision_latency_us"]["p50"] <= data["decision_latency_us"]["p99"]
    # the report's numbers are the journal's rows
    with open_journal(out / "journal.sqlite") as j:
        totals = j.totals()
        assert j.digest() == data["journal_sha256"]
        assert totals.decisions.get("TRADE", 0) == data["trades"]
        assert totals.opportunities == data["opportunities"]
        assert j.integrity_check() == "ok"
    md = (out / "report.md").read_text()
    assert "| PnL (USDT" in md
    assert data["journal_sha256"] in md
    assert (out / "pnl.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.trades == data["trades"]


def test_two_replays_give_the_same_journal_digest(synth, synth_run, tmp_path):
    _, first = synth_run
    second = run_replay(load_config(SYNTH_CFG), SYNTH_CFG, [synth], tmp_path / "run2")
    assert second.journal_sha256 == first.journal_sha256
    assert second.pnl_quote == first.pnl_quote
    # decision latency is measured, not journaled: it may differ without changing the digest


def test_kill_switch_file_refuses_every_trade(synth, tmp_path):
    kill = tmp_path / "KILL"
    kill.touch()
    path = _cfg_with(SYNTH_CFG, tmp_path, risk={"kill_switch_file": str(kill)})
    report = run_replay(load_config(path), path, [synth], tmp_path / "out")
    assert report.trades == 0
    assert report.opportunities > 0
    assert report.refusals == {"KILL_SWITCH": report.opportunities}
    assert report.kill_switch == f"file {kill} exists"


def _replay_process(cfg: Path, data: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "arb", "replay", str(cfg), "--data", str(data), "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_rows(db: Path, table: str, proc: subprocess.Popen[bytes], limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)
                try:
                    (n,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
                finally:
                    conn.close()
                if n:
                    return True
            except sqlite3.Error:
                pass
        time.sleep(0.005)
    return False


def test_a_replay_killed_midway_leaves_a_consistent_readable_journal(synth, tmp_path):
    path = _cfg_with(SYNTH_CFG, tmp_path, replay={"commit_every": 1})
    out = tmp_path / "out"
    proc = _replay_process(path, synth, out)
    try:
        assert _wait_for_rows(out / "journal.sqlite", "fills", proc, 60), "no fill journaled"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, "the replay ended before it could be killed"
    assert not (out / "report.json").exists()
    with open_journal(out / "journal.sqlite") as j:
        assert j.integrity_check() == "ok"
        orders = {(o.venue, o.client_order_id): o for o in j.orders()}
        assert orders
        for e in j.order_events():
            assert (e.venue, e.client_order_id) in orders
        fills = j.fills()
        assert fills
        for f in fills:
            order = orders[(f.event.venue, f.event.client_order_id)]
            assert f.event.side is order.side
        traded = {d.opportunity_id for d in j.decisions() if d.decision == "TRADE"}
        assert {o.opportunity_id for o in orders.values()} <= traded
        assert j.totals().opportunities >= len(traded)


def _signalled_replay(synth: Path, tmp_path: Path, sig: signal.Signals) -> Path:
    """Run a replay in a process, send ``sig`` once its first decision is journaled, expect
    exit 0; return the output directory."""
    path = _cfg_with(SYNTH_CFG, tmp_path, replay={"commit_every": 1})
    out = tmp_path / "out"
    proc = _replay_process(path, synth, out)
    try:
        assert _wait_for_rows(out / "journal.sqlite", "decisions", proc, 60)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err.decode()
    return out


def test_sigterm_stops_reading_finishes_what_is_in_flight_and_writes_the_report(synth, tmp_path):
    out = _signalled_replay(synth, tmp_path, signal.SIGTERM)
    data = json.loads((out / "report.json").read_text())
    assert data["stopped"] == "signal SIGTERM"
    assert data["kill_switch"] == "signal SIGTERM"
    assert data["unfinished_trades"] == 0
    assert data["unhedged_notional_end_quote"] == 0


def test_sigusr1_trips_the_kill_switch_and_the_replay_runs_to_the_end(synth, tmp_path):
    out = _signalled_replay(synth, tmp_path, signal.SIGUSR1)
    data = json.loads((out / "report.json").read_text())
    assert data["kill_switch"] == "signal SIGUSR1"
    assert data["stopped"] == ""
    assert data["frames"] == open_recording(synth).manifest.frames  # every frame was read
    assert data["unhedged_notional_end_quote"] == 0
    with open_journal(out / "journal.sqlite") as j:
        decisions = j.decisions()
    # once tripped, nothing more is traded: every later decision is a KILL_SWITCH refusal
    first_kill = next(
        (i for i, d in enumerate(decisions) if d.code == "KILL_SWITCH"), len(decisions)
    )
    assert all(d.code == "KILL_SWITCH" for d in decisions[first_kill:])


@pytest.fixture(scope="module")
def linkusdt(shared_data, tmp_path_factory) -> Path:
    src = shared_data / "binance-huobi-linkusdt-20210820"
    out = tmp_path_factory.mktemp("link") / "rec"
    run_import("topn-csv", [src / "orderbook_bnc.csv", src / "orderbook_hb.csv"], out)
    return out


def test_linkusdt_replay_trades_and_ends_with_nothing_unhedged(linkusdt, tmp_path):
    report = run_replay(load_config(LINK_CFG), LINK_CFG, [linkusdt], tmp_path / "out")
    assert report.frames == 14_400
    assert report.trades >= 1
    assert report.legs_filled >= 2
    assert report.unhedged_notional_end_quote == 0
    assert report.unfinished_trades == 0
    assert report.ledger_matches_venues
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["unhedged_notional_end_quote"] == 0
    assert data["trades"] == report.trades


def test_replay_cli_in_another_process_gives_the_same_digest(synth, synth_run, tmp_path):
    env = dict(os.environ, PYTHONHASHSEED="12345")  # set and dict orders differ from this process
    out = subprocess.run(
        [sys.executable, "-m", "arb", "replay", str(SYNTH_CFG), "--data", str(synth),
         "--out", str(tmp_path / "o")],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["journal_sha256"] == synth_run[1].journal_sha256


def test_replay_without_data_is_a_clear_error(tmp_path, capsys):
    from arb.cli import main

    assert main(["replay", str(SYNTH_CFG), "--out", str(tmp_path)]) == 2
    assert "give at least one --data RECORDING" in capsys.readouterr().err


def _rewrite_frames(src: Path, dst: Path, mutate) -> Path:
    """Copy a recording, passing each frame line through ``mutate(i, line) -> line``."""
    dst.mkdir()
    (dst / "manifest.json").write_bytes((src / "manifest.json").read_bytes())
    with gzip.open(src / "frames-000000.arb.gz", "rb") as fh:
        lines = fh.read().split(b"\n")
    with gzip.open(dst / "frames-000000.arb.gz", "wb") as fh:
        fh.write(b"\n".join(mutate(i, ln) for i, ln in enumerate(lines)))
    return dst


_CHECKSUM = re.compile(rb'"checksum":-?\d+')


def _as_okx_sends_today(i: int, line: bytes) -> bytes:
    # OKX has sent checksum 0 since June 2026: the engine then applies text rows directly.
    return _CHECKSUM.sub(b'"checksum":0', line) if b'"channel":"books"' in line else line


def test_checksum_free_okx_updates_replay_to_the_same_journal(synth, synth_run, tmp_path):
    # The synthetic OKX frames carry real checksums (the engine applies integer levels, raw
    # strings kept and verified); without them the same updates go through the text path
    # (``TextBookDelta``, converted as applied). Same books at every step: same journal.
    _, first = synth_run
    rec = _rewrite_frames(synth, tmp_path / "rec", _as_okx_sends_today)
    report = run_replay(load_config(SYNTH_CFG), SYNTH_CFG, [rec], tmp_path / "run")
    data = json.loads((tmp_path / "run" / "report.json").read_text())
    assert data["decode_errors"] == 0
    assert data["book_failures"] == 0
    assert report.trades == first.trades > 0
    assert report.journal_sha256 == first.journal_sha256


def test_a_price_that_does_not_fit_in_a_text_update_is_counted_and_drops_the_book(synth, tmp_path):
    # One OKX update (checksum 0: the text path) names a price finer than the tick: the frame
    # is counted as a decode error and its book dropped (no later snapshot in this recording,
    # so that book stays out of trading); the replay goes on to the end.
    target: list[int] = []

    def corrupt(i: int, line: bytes) -> bytes:
        line = _as_okx_sends_today(i, line)
        if not target and b'"instId":"BTC-USDT"},"action":"update"' in line and i > 2000:
            target.append(i)
            head, sep, rest = line.partition(b'"asks":[["')
            px, _, tail = rest.partition(b'"')
            finer = px + (b"05" if b"." in px else b".05")  # a hundredth, tick 0.1
            return head + sep + finer + b'"' + tail
        return line

    rec = _rewrite_frames(synth, tmp_path / "rec", corrupt)
    assert target
    report = run_replay(load_config(SYNTH_CFG), SYNTH_CFG, [rec], tmp_path / "run")
    data = json.loads((tmp_path / "run" / "report.json").read_text())
    assert data["decode_errors"] == 1
    assert data["book_failures"] == 1
    assert data["frames"] > 10_000  # read to the end
    assert data["unfinished_trades"] == 0
    assert data["ledger_matches_venues"] is True
    assert report.frames == data["frames"]


def test_a_bad_row_in_an_update_the_book_does_not_apply_is_counted_not_fatal(synth, tmp_path):
    # After a lost update (a gap) the OKX book waits for a snapshot and buffers what comes;
    # the simulated venue still mirrors those updates. One of them names a price finer than
    # the tick: it is counted as a decode error, and the replay goes on.
    okx_updates = 0
    gapped: list[int] = []
    corrupted: list[int] = []

    def gap_then_bad(i: int, line: bytes) -> bytes:
        nonlocal okx_updates
        line = _as_okx_sends_today(i, line)
        if b'"instId":"BTC-USDT"},"action":"update"' not in line:
            return line
        okx_updates += 1
        if okx_updates == 500:
            gapped.append(i)
            # its seqId jumps ahead: the next update's prevSeqId does not link, a gap
            return line.replace(b'"seqId":', b'"seqId":1')
        if okx_updates == 510:
            corrupted.append(i)
            head, sep, rest = line.partition(b'"asks":[["')
            px, _, tail = rest.partition(b'"')
            return head + sep + px + (b"05" if b"." in px else b".05") + b'"' + tail
        return line

    rec = _rewrite_frames(synth, tmp_path / "rec", gap_then_bad)
    assert gapped
    assert corrupted
    run_replay(load_config(SYNTH_CFG), SYNTH_CFG, [rec], tmp_path / "run")
    data = json.loads((tmp_path / "run" / "report.json").read_text())
    assert data["decode_errors"] >= 1
    assert data["book_failures"] >= 1
    assert data["frames"] > 10_000
    assert data["ledger_matches_venues"] is True


def test_a_bad_text_row_asks_the_live_feed_for_a_fresh_book(synth, tmp_path):
    # In ``arb run`` the engine's ``on_book_failure`` makes the venue link resubscribe (or
    # fetch a snapshot): a row that does not convert must trigger it like a gap does.
    cfg = load_config(SYNTH_CFG)
    rec = open_recording(synth)
    insts = instruments_for(cfg, [rec], str(SYNTH_CFG))
    engine = Engine(cfg, insts, {}, Journal(tmp_path / "j.sqlite"), {})
    failures: list[tuple[str, str, str]] = []
    engine.on_book_failure = lambda *where: failures.append(where)
    bad_at = None
    for i, frame in enumerate(rec.frames()):
        payload = _as_okx_sends_today(i, frame.payload)
        if bad_at is None and i > 1000 and b'"instId":"ETH-USDT"},"action":"update"' in payload:
            bad_at = i
            payload = payload.replace(b'"bids":[["', b'"bids":[["1e3","1"],["', 1)
        engine.advance_to(frame.ts_recv)
        engine.on_frame(frame.ts_recv, frame.venue, frame.conn, frame.kind, payload)
    assert bad_at is not None
    assert failures == [("okx", "ETH-USDT", "books")]
    assert engine.stats.decode_errors == 1
    assert "'1e3' is not a decimal number" in engine.error_samples[0]
    assert not engine.books[("okx", "ETH-USDT")].valid
    assert engine.books[("okx", "BTC-USDT")].valid

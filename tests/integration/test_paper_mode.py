"""Paper mode: ``arb run --paper`` trades live market data against simulated venues.

The two loopback sandboxes provide the market (over the native OKX WebSocket and ccxt); the
orders go to ``SimVenue``\\ s built from ``[venues.sim]``, so the sandboxes must see no order
at all. During the run the kill-switch file is created: the ``kill_switch`` alert reaches the
configured command, new trades stop. SIGTERM then stops the process gracefully (exit 0).
With ``record = true`` the frames it traded on are a recording that ``arb verify`` reads clean.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from arb.cli import main
from arb.journal import open_journal
from arb.recording import open_recording
from arb.verify import verify_recording
from tests.integration._e2e import ArbProc
from tests.integration._e2e import e2e_config
from tests.integration._e2e import journal_traded
from tests.integration._e2e import sandboxes

pytestmark = pytest.mark.integration

SIM = """
[venues.sim]
order_latency = 5.0
event_latency = 2.0
balances = { USDT = "50000", BTC = "1" }
"""

ALERT_SCRIPT = (
    "import sys, pathlib; pathlib.Path(sys.argv[1]).open('a').write(sys.stdin.read() + '\\n')"
)


def _paper_config(tmp: Path) -> tuple[Path, tuple[int, int], Path, Path]:
    config, ports = e2e_config(tmp, state_dir=tmp / "state")
    text = config.read_text()
    # a [venues.sim] table after each venue's keys, a kill-switch file, an alert command
    parts = text.split("[[venues]]")
    parts = [parts[0], *(p.replace("\n\n", "\n" + SIM + "\n", 1) for p in parts[1:])]
    text = "[[venues]]".join(parts)
    kill = tmp / "KILL"
    alerts = tmp / "alerts.jsonl"
    text = text.replace("[risk]\n", f'[risk]\nkill_switch_file = "{kill}"\n', 1)
    command = json.dumps([sys.executable, "-c", ALERT_SCRIPT, str(alerts)])
    text = text.replace("[live.alerts]\n", f"[live.alerts]\ncommand = {command}\n", 1)
    text = text.replace('mode = "live"', 'mode = "paper"\nrecord = true')
    config.write_text(text)
    return config, ports, kill, alerts


def test_paper_mode_trades_live_books_on_simulated_venues(tmp_path: Path) -> None:
    config, ports, kill, alerts = _paper_config(tmp_path)
    with sandboxes(ports) as (a, b):
        arb = ArbProc.start(config)
        journal = tmp_path / "state" / "journal-paper.sqlite"
        deadline = time.monotonic() + 40
        traded = False
        while not traded and time.monotonic() < deadline:
            assert arb.proc.poll() is None, arb.tail()
            time.sleep(0.5)
            traded = journal_traded(journal)
        assert traded, "no paper trade in 40 s:\n" + arb.tail()
        kill.touch()
        kill_ns = time.time_ns()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (alerts.exists() and alerts.read_text()):
            time.sleep(0.1)
        arb.proc.send_signal(signal.SIGTERM)
        code = arb.wait(timeout=40)
        summary = arb.summary()
        venue_orders = len(a.records()["orders"]) + len(b.records()["orders"])
    assert code == 0, arb.tail()
    assert summary["mode"] == "paper"
    assert summary["stopped_by"] == "signal SIGTERM"
    assert summary["trades"] >= 1
    assert summary["unhedged_at_end"] == 0
    assert venue_orders == 0  # paper: nothing reached the venues
    sent = [json.loads(line) for line in alerts.read_text().splitlines() if line.strip()]
    kinds = {s["kind"] for s in sent}
    assert "kill_switch" in kinds, sent
    ks = next(s for s in sent if s["kind"] == "kill_switch")
    assert "KILL" in ks["message"]
    assert ks["engine"] == "e2e-loopback"
    with open_journal(journal) as r:
        late = [d for d in r.decisions() if d.decision == "TRADE" and d.ts > kill_ns + 10**9]
        fills = r.fills()
    assert fills
    assert {f.event.venue for f in fills} <= {"okx", "okx-b"}
    assert late == []  # the kill switch (polled every 0.25 s) stopped new trades

    rec = open_recording(summary["recording"])
    assert {i.venue for i in rec.manifest.instruments} == {"okx", "okx-b"}
    assert rec.manifest.frames > 0
    totals, books, samples = verify_recording(rec)
    assert totals.failures() == [], samples
    assert {b.venue for b in books} == {"okx", "okx-b"}
    # ... and arb replay runs the same config on it (any live day can be replayed)
    assert (
        main(["replay", str(config), "--data", summary["recording"], "--out", str(tmp_path / "r")])
        == 0
    )
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["frames"] == rec.manifest.frames

"""A process killed (SIGKILL) while it writes the journal loses nothing it committed, and the
journal it leaves is readable, intact and holds no part of an event or of a batch."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arb.journal import Journal
from arb.journal import open_journal

ROOT = Path(__file__).resolve().parents[2]

# Writes cycles of 6 events (opportunity, decision, order, ack, fill, 2-asset balance snapshot)
# and prints the number of cycles done after each one, for at most 100,000 cycles or 20 s.
CHILD = r"""
import sys, time
from arb.core.messages import OrderAccepted, OrderFilled, OrderType, PlaceOrder
from arb.core.opportunity import Leg, Opportunity
from arb.core.types import Side
from arb.journal import Journal

path, commit_every = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 20
j = Journal(path, commit_every=commit_every)
j.begin_run(config_digest="crash", run_id="crash")
j.flush()
for i in range(100_000):
    if time.monotonic() > deadline:
        break
    oid = f"opp{i}"
    leg = Leg(venue="a", symbol="X-USDT", side=Side.BUY, px=100 + i, qty=5,
              expected_notional=500 * 10**12, fee=10**9)
    j.record_opportunity(Opportunity(
        id=oid, kind="spatial", ts=i, symbol="X-USDT", quote="USDT", legs=(leg, leg),
        gross_profit=10**12, fees=2 * 10**9, latency_haircut=10**9,
        expected_profit=10**12 - 3 * 10**9, expected_profit_bps=1.5, inputs={"i": i}))
    j.record_decision(ts=i, opportunity_id=oid, decision="TRADE")
    cid = f"{oid}L0A0"
    j.record_order(PlaceOrder(venue="a", symbol="X-USDT", client_order_id=cid, side=Side.BUY,
                              order_type=OrderType.IOC, px=100 + i, qty=5, ts=i,
                              opportunity_id=oid))
    j.record_event(OrderAccepted(venue="a", client_order_id=cid, venue_order_id=f"v{i}",
                                 ts_event=i, ts_recv=i))
    j.record_event(OrderFilled(venue="a", client_order_id=cid, trade_id=f"t{i}", side=Side.BUY,
                               px=100 + i, qty=5, fee=10**9, fee_ccy="USDT",
                               liquidity="taker", ts_event=i, ts_recv=i))
    j.record_balances(ts=i, venue="a", balances={"USDT": 10**15 - i, "X": i})
    print(i + 1, flush=True)
"""
EVENTS_PER_CYCLE = 6
KILL_AFTER = 300  # cycles reported done before the kill


def run_and_kill(path: Path, commit_every: int) -> int:
    """Start the writer, SIGKILL it once it reports KILL_AFTER cycles; return cycles reported."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(commit_every)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    assert proc.stdout is not None
    done = 0
    try:
        for line in proc.stdout:
            done = int(line)
            if done >= KILL_AFTER:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "the writer finished before it was killed"
    assert done >= KILL_AFTER
    return done


def counts(path: Path) -> dict[str, int]:
    with open_journal(path) as r:
        assert r.integrity_check() == "ok"
        t = r.totals()
        # every row decodes into its record
        opps, events, fills, balances = r.opportunities(), r.order_events(), r.fills(), r.balances()
        assert [o.id for o in opps] == [f"opp{i}" for i in range(len(opps))]
        assert all(f.opportunity_id == f"opp{i}" for i, f in enumerate(fills))
        r.digest()
        return {
            "opportunities": t.opportunities,
            "decisions": t.decisions.get("TRADE", 0),
            "orders": t.orders,
            "events": len(events),
            "fills": len(fills),
            "balances": len(balances),
        }


skip_windows = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


@skip_windows
def test_killed_writer_committing_every_event_loses_nothing_committed(tmp_path):
    path = tmp_path / "journal.sqlite"
    done = run_and_kill(path, commit_every=1)
    c = counts(path)
    n = c["opportunities"]
    assert n >= done
    # events are written in cycle order, each committed on its own: every table is at the
    # same cycle or one behind, and a balance snapshot (2 rows, one event) is never split
    assert n - 1 <= c["decisions"] <= n
    assert n - 1 <= c["orders"] <= n
    assert 2 * (n - 1) <= c["events"] <= 2 * n
    assert n - 1 <= c["fills"] <= n
    assert c["balances"] % 2 == 0
    assert n - 1 <= c["balances"] // 2 <= n
    # the journal takes new writes after the crash (restart recovery)
    with Journal(path) as j:
        assert j.begin_run(config_digest="crash", run_id="restart") == 2
        assert j.integrity_check() == "ok"


@skip_windows
def test_killed_writer_committing_in_batches_leaves_only_whole_batches(tmp_path):
    path = tmp_path / "journal.sqlite"
    done = run_and_kill(path, commit_every=EVENTS_PER_CYCLE)
    c = counts(path)
    n = c["opportunities"]
    # batches are whole cycles: every table stops at the same cycle
    assert n >= done
    assert c["decisions"] == c["orders"] == c["fills"] == c["balances"] // 2 == n
    assert c["events"] == 2 * n


def test_child_script_completes_a_cycle_without_being_killed(tmp_path):
    # guards the crash tests against a broken child script passing for the wrong reason
    path = tmp_path / "journal.sqlite"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.replace("range(100_000)", "range(3)"), str(path), "1"],
        capture_output=True,
        cwd=ROOT,
        text=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "2", "3"]
    assert time.monotonic() - started < 10
    c = counts(path)
    assert c == {
        "opportunities": 3,
        "decisions": 3,
        "orders": 3,
        "events": 6,
        "fills": 3,
        "balances": 6,
    }

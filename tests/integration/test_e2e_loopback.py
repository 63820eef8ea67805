"""End to end over loopback: ``arb run configs/e2e-loopback.toml --duration 20`` against two
OKX sandboxes, venue A through the native OKX adapter, venue B through ccxt's ``okx``.

While it runs, sandbox A drops its WebSockets, sandbox B answers a burst of 50011 and fills
the next order only partly. The run must trade across the venues over real HTTP and
WebSocket, keep trading after each fault, roll the partial fill back, stop on its own with
exit status 0, leave nothing unhedged, and its journal must agree with both sandboxes' own
records of orders and fills. The metrics endpoint of the running process is scraped.
"""

from __future__ import annotations

import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from arb.journal import open_journal
from tests.integration._e2e import ArbProc
from tests.integration._e2e import compare_with_sandboxes
from tests.integration._e2e import e2e_config
from tests.integration._e2e import net_base_change
from tests.integration._e2e import sandboxes

pytestmark = pytest.mark.integration

NS = 1_000_000_000


def _scrape(port: int) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = s.name + "".join(f",{k}={v}" for k, v in sorted(s.labels.items()))
            out[key] = s.value
    return out


def test_arb_run_trades_across_two_sandboxes_and_agrees_with_them(tmp_path: Path) -> None:
    config, ports = e2e_config(tmp_path, state_dir=tmp_path / "state")
    with sandboxes(ports) as (a, b):
        arb = ArbProc.start(config, "--duration", "20")
        port = arb.metrics_port()
        t0 = time.time_ns()
        time.sleep(5)
        first = _scrape(port)
        drop_ns = time.time_ns()
        a.faults(drop_ws_after_msgs=1)  # every WebSocket of A closes at its next push
        time.sleep(0.5)
        a.faults(drop_ws_after_msgs=0)
        time.sleep(2.5)
        burst_ns = time.time_ns()
        b.faults(rate_limit_burst=6)
        time.sleep(2.5)
        partial_ns = time.time_ns()
        b.faults(partial_fill_next=1)  # the next order on B fills half
        code = arb.wait(timeout=60)
        summary = arb.summary()
        assert code == 0, arb.tail()
        journal = Path(summary["journal"])
        counts = compare_with_sandboxes(journal, {"okx": a, "okx-b": b})
        net_btc = net_base_change({"okx": a, "okx-b": b}, "BTC")
    logs = arb.logs()  # every stderr line is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= set(rec) for rec in logs)
    # before trading, the start-up heap was frozen out of the collector's reach
    (frozen,) = [rec for rec in logs if rec["msg"] == "gc: start-up heap frozen"]
    assert frozen["frozen_objects"] > 10_000, frozen
    assert logs.index(frozen) < next(i for i, rec in enumerate(logs) if rec["msg"] == "trading")

    # traded across the venues, over HTTP and WebSocket, and on after every fault
    assert summary["trades"] >= 3, summary
    assert counts["fills"] >= 4, counts
    with open_journal(journal) as r:
        trades = [d.ts for d in r.decisions() if d.decision == "TRADE"]
        rollbacks = r.rollbacks()
        pnl = r.pnl()
    assert trades
    assert min(trades) >= t0 - 30 * NS
    assert any(ts > drop_ns + NS for ts in trades), "no trade after the WebSocket drop"
    assert any(ts > burst_ns for ts in trades), "no trade after the 50011 burst"
    # the partial fill was rolled back (hedged or unwound) and the books are square
    assert summary["rollbacks"] >= 1, summary
    assert any(rb.ts > partial_ns and rb.decision != "DONE" for rb in rollbacks), rollbacks
    assert summary["unhedged_at_end"] == 0, summary
    assert summary["open_trades_at_end"] == 0, summary
    assert pnl[-1].unhedged_notional == 0
    assert net_btc == Decimal(0), f"net BTC across the venues: {net_btc}"

    # the metrics endpoint of the live process, scraped while it ran
    assert first["arb_messages_total,venue=okx"] > 0
    assert first["arb_messages_total,venue=okx-b"] > 0
    assert first["arb_book_valid,symbol=BTC-USDT,venue=okx"] == 1
    assert first["arb_decision_latency_seconds_count"] > 0
    assert first["arb_trading_enabled"] == 1

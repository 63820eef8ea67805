"""Restart recovery: ``arb run`` is SIGKILLed in the middle of a trade, then started again.

Sandbox B answers orders 4 s late and fills the next one only half, so when the first trade's
decision is in the journal, its leg on B is at the venue but not acknowledged to arb. The
process is killed there (no shutdown, no flush beyond what was committed). The second run
must read the journal, ask the venues for the orders by client order id, apply their fills,
roll back the half-filled leg, and only then trade; at the end the journal and both sandboxes
agree, no order is open and no exposure is left.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from arb.journal import open_journal
from tests.integration._e2e import ArbProc
from tests.integration._e2e import compare_with_sandboxes
from tests.integration._e2e import e2e_config
from tests.integration._e2e import journal_traded
from tests.integration._e2e import net_base_change
from tests.integration._e2e import sandboxes

pytestmark = pytest.mark.integration


def test_sigkill_mid_trade_then_restart_settles_with_the_venues(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config, ports = e2e_config(tmp_path, state_dir=state)
    journal = state / "journal.sqlite"
    with sandboxes(ports) as (a, b):
        b.faults(ack_delay_ms=4000, partial_fill_next=1)
        first = ArbProc.start(config)
        deadline = time.monotonic() + 60
        while not journal_traded(journal):
            assert first.proc.poll() is None, "arb run ended early:\n" + first.tail()
            assert time.monotonic() < deadline, "no trade in 60 s:\n" + first.tail()
            time.sleep(0.02)
        # Kill once both legs have reached their venues (B has placed and half filled its order
        # and answers 4 s later): a fixed wait after the decision missed them on a slow machine
        # (nothing to roll back then).
        deadline = time.monotonic() + 10
        while not (a.records()["orders"] and b.records()["orders"]):
            assert time.monotonic() < deadline, "the legs never reached the venues"
            time.sleep(0.02)
        first.kill()  # SIGKILL: no shutdown, no cancel, no flush
        with open_journal(journal) as r:
            open_before = r.open_orders()
            assert r.pnl() == []  # it never got to finish anything
        assert any(o.order.venue == "okx-b" for o in open_before), open_before
        b.faults(ack_delay_ms=0)

        second = ArbProc.start(config, "--duration", "6")
        code = second.wait(timeout=90)
        summary = second.summary()
        assert code == 0, second.tail()
        assert summary["restored_trades"] >= 1, summary
        counts = compare_with_sandboxes(journal, {"okx": a, "okx-b": b})
        net_btc = net_base_change({"okx": a, "okx-b": b}, "BTC")

    assert counts["fills"] >= 2
    with open_journal(journal) as r:
        assert r.open_orders() == []
        assert r.pnl()[-1].unhedged_notional == 0
        killed = {o.order.opportunity_id for o in open_before}
        all_rollbacks = r.rollbacks()
        rolled = [rb for rb in all_rollbacks if rb.opportunity_id in killed]
    # the half-filled leg on B was rolled back by the second run
    assert any(rb.decision in ("HEDGE", "UNWIND", "ESCALATE") for rb in rolled), (
        f"killed {killed}, open before {open_before}, rollbacks {all_rollbacks}, "
        f"summary {summary}\n{second.tail()}"
    )
    assert summary["unhedged_at_end"] == 0, summary
    assert summary["open_trades_at_end"] == 0, summary
    assert net_btc == Decimal(0), f"net BTC across the venues: {net_btc}"
    messages = [rec["msg"] for rec in second.logs()]
    assert any("settling them before trading" in m for m in messages), messages[:20]

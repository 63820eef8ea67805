"""``arb run`` refuses to start with a clear error naming the venue when a venue cannot be
reached (loopback only: the venue's URLs point at a closed port), and leaves no recording."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


def test_an_unreachable_venue_stops_arb_run_at_start_naming_it(tmp_path: Path) -> None:
    port = _closed_port()
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"""
[[venues]]
id = "okx"
kind = "okx"
rest_url = "http://127.0.0.1:{port}"
ws_url = "ws://127.0.0.1:{port}/ws/v5/public"

[venues.sim]
balances = {{ USDT = "1000", BTC = "1" }}

[[pairs]]
symbol = "BTC-USDT"
venues = ["okx"]

[live]
mode = "paper"
state_dir = "{tmp_path / "state"}"
record = true

[live.metrics]
enabled = false
"""
    )
    proc = subprocess.run(
        [sys.executable, "-m", "arb", "run", str(cfg), "--duration", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"arb: error: {cfg}: venue okx: cannot start:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "state" / "recordings").exists()

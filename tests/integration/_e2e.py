"""Helpers of the loopback end-to-end tests: OKX sandboxes and ``arb run`` as subprocesses.

Everything binds and connects to 127.0.0.1. The sandboxes' own records (``GET
/sandbox/records``) are compared with arb's journal: same orders, same fills (trade ids,
exact prices, sizes and fees), and a net position of zero across the venues.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from pathlib import Path
from typing import Any

from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import to_raw
from arb.journal import JournalError
from arb.journal import open_journal

ROOT = Path(__file__).resolve().parents[2]
E2E_CONFIG = ROOT / "configs" / "e2e-loopback.toml"
CONFIG_PORTS = (18441, 18442)
SANDBOX_ENV = {
    "ARB_OKX_API_KEY": "sandbox-key",
    "ARB_OKX_SECRET_KEY": "sandbox-secret",
    "ARB_OKX_PASSPHRASE": "sandbox-pass",
    "ARB_OKX_B_API_KEY": "sandbox-key",
    "ARB_OKX_B_SECRET_KEY": "sandbox-secret",
    "ARB_OKX_B_PASSPHRASE": "sandbox-pass",
}
START_BALANCES = {"USDT": Decimal("100000"), "BTC": Decimal("2"), "ETH": Decimal("20")}
_READY = re.compile(r"REST (http://127\.0\.0\.1:(\d+))")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _any_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def e2e_config(tmp: Path, *, state_dir: Path) -> tuple[Path, tuple[int, int]]:
    """``configs/e2e-loopback.toml`` with its state dir in ``tmp`` (and other ports when the
    config's are taken on this machine). Returns the path and the two sandbox ports."""
    text = E2E_CONFIG.read_text()
    ports = CONFIG_PORTS
    if not all(_free(p) for p in ports):
        ports = (_any_port(), _any_port())
        for old, new in zip(CONFIG_PORTS, ports, strict=True):
            text = text.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
    text = re.sub(r'state_dir = "[^"]*"', f'state_dir = "{state_dir}"', text)
    path = tmp / "e2e-loopback.toml"
    path.write_text(text)
    return path, ports


class SandboxProc:
    """``arb okx-sandbox`` in a subprocess, with its control endpoint."""

    def __init__(self, port: int, *args: str) -> None:
        argv = [sys.executable, "-m", "arb", "okx-sandbox", "--port", str(port), *args]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT
        )
        assert self.proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line or _READY.search(line):
                break
        m = _READY.search(line)
        if m is None:
            self.proc.kill()
            raise AssertionError(f"sandbox on port {port} did not start: {line!r}")
        self.url = m.group(1)
        self.output: list[str] = []
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()  # a full pipe would block the sandbox

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:  # noqa: S310 - loopback
            return json.loads(r.read())

    def faults(self, **knobs: Any) -> Any:
        req = urllib.request.Request(  # noqa: S310 - loopback
            self.url + "/sandbox/faults",
            data=json.dumps(knobs).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            return json.loads(r.read())

    def records(self) -> Any:
        return self.get("/sandbox/records")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._drain.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def sandboxes(ports: tuple[int, int], seconds: int = 120) -> Iterator[tuple[SandboxProc, ...]]:
    """Sandbox A (the market) and B (the same market, priced apart from time to time)."""
    common = ("--seconds", str(seconds), "--seed", "5")
    skew = ("--skew-bps", "40", "--skew-every", "3", "--skew-for", "1.5")
    a = SandboxProc(ports[0], *common)
    try:
        b = SandboxProc(ports[1], *common, *skew)
        try:
            yield a, b
        finally:
            b.close()
    finally:
        a.close()


_STARTED: list[ArbProc] = []
"""Every ``arb run`` started by a test: ``reap()`` (an autouse fixture) stops what a failed test
left running, so that no process outlives its test."""


def reap() -> None:
    """SIGKILL and wait for every ``arb run`` still running; forget them all."""
    while _STARTED:
        me = _STARTED.pop()
        if me.proc.poll() is None:
            with contextlib.suppress(Exception):
                me.kill()


def journal_traded(journal: Path) -> bool:
    """True once the journal records a TRADE decision; False while it does not exist yet or
    its writer has not created the schema (a running ``arb run`` opens it first)."""
    if not journal.exists():
        return False
    try:
        with open_journal(journal) as r:
            return any(d.decision == "TRADE" for d in r.decisions())
    except (JournalError, sqlite3.Error):
        return False


@dataclass
class ArbProc:
    """``arb run`` in a subprocess; stderr (JSON lines) collected by a thread."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    out: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, config: Path, *args: str) -> ArbProc:
        env = {**os.environ, **SANDBOX_ENV}
        proc = subprocess.Popen(
            [sys.executable, "-m", "arb", "run", str(config), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
        )  # fmt: skip
        me = cls(proc)
        _STARTED.append(me)
        for stream, into in ((proc.stderr, me.lines), (proc.stdout, me.out)):
            t = threading.Thread(target=me._read, args=(stream, into), daemon=True)
            t.start()
            me.readers.append(t)
        return me

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        with stream:
            for line in stream:
                into.append(line.rstrip("\n"))

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("arb run did not stop in time:\n" + self.tail()) from None
        finally:
            for t in self.readers:
                t.join(10)
        return code

    def kill(self) -> None:
        """SIGKILL, then wait for it and its pipes."""
        self.proc.kill()
        self.wait(10)

    def summary(self) -> dict[str, Any]:
        assert self.out, "arb run printed no summary:\n" + self.tail()
        return dict(json.loads(self.out[-1]))

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.lines)]

    def tail(self, n: int = 40) -> str:
        return "\n".join(list(self.lines)[-n:])

    def metrics_port(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
                if m:
                    return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("no metrics line:\n" + self.tail())


def _raw(s: str, precision: int) -> int:
    return to_raw(s, precision)


def compare_with_sandboxes(journal: Path, venues: dict[str, SandboxProc]) -> dict[str, Any]:
    """Assert the journal and the sandboxes agree on every order and fill; return counts.

    Every order the journal sent and the venue accepted is in the venue's records with the
    filled size the journal's fills add up to; every venue fill of those orders is in the
    journal with the same trade id, price, size and fee (OKX's negative fee = arb's positive
    fee); the venues hold no order of ours the journal does not know.
    """
    with open_journal(journal) as r:
        insts = {(i.venue, i.symbol): i for i in r.instruments()}
        orders = r.orders()
        events = r.order_events()
        fills = [f.event for f in r.fills()]
    accepted = {(e.venue, e.client_order_id) for e in events if type(e).__name__ == "OrderAccepted"}
    counts: dict[str, Any] = {"orders": 0, "fills": 0}
    for venue, sb in venues.items():
        rec = sb.records()
        ours = {o.client_order_id: o for o in orders if o.venue == venue}
        theirs = {o["clOrdId"]: o for o in rec["orders"] if o["clOrdId"]}
        assert set(theirs) <= set(ours), f"{venue}: orders unknown to the journal: " + str(
            sorted(set(theirs) - set(ours))
        )
        for cid in ours:
            if (venue, cid) in accepted:
                assert cid in theirs, f"{venue}: journal accepted {cid}, venue has no such order"
        j_fills = {(f.client_order_id, f.trade_id): f for f in fills if f.venue == venue}
        v_fills = {(f["clOrdId"], f["tradeId"]): f for f in rec["fills"] if f["clOrdId"]}
        assert set(j_fills) == set(v_fills), (
            f"{venue}: fills differ: journal-only {sorted(set(j_fills) - set(v_fills))}, "
            f"venue-only {sorted(set(v_fills) - set(j_fills))}"
        )
        for key, vf in v_fills.items():
            jf = j_fills[key]
            inst = insts[(venue, ours[key[0]].symbol)]
            assert jf.px == _raw(vf["fillPx"], inst.price_precision), key
            assert jf.qty == _raw(vf["fillSz"], inst.size_precision), key
            assert jf.fee == -_raw(vf["fee"], AMOUNT_PRECISION), key
            assert jf.fee_ccy == vf["feeCcy"], key
        for cid, vo in theirs.items():
            filled = sum(f.qty for (c, _), f in j_fills.items() if c == cid)
            inst = insts[(venue, ours[cid].symbol)]
            assert filled == _raw(vo["accFillSz"] or "0", inst.size_precision), cid
        counts["orders"] += len(theirs)
        counts["fills"] += len(v_fills)
    return counts


def net_base_change(venues: dict[str, SandboxProc], asset: str) -> Decimal:
    """Sum over the venues of ``asset``'s balance change since the sandboxes started."""
    total = Decimal(0)
    for sb in venues.values():
        for bal in sb.records()["balances"].values():
            total += Decimal(bal.get(asset, "0")) - START_BALANCES[asset]
    return total

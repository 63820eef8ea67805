"""Alerter deliveries on loopback: a webhook receiver and a command writing its stdin to a file."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from arb.config import AlertsConfig
from arb.ops import logs
from arb.ops.alerts import Alert
from arb.ops.alerts import Alerter
from arb.ops.logs import REDACTED
from arb.ops.logs import redact

pytestmark = pytest.mark.integration

LIMIT_S = 10.0
WRITE_STDIN = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_bytes(sys.stdin.buffer.read())"


@pytest.fixture(autouse=True)
def _own_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_SECRETS", set())


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), LIMIT_S))


class Receiver:
    """A webhook endpoint on 127.0.0.1 recording what it is sent."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[bytes] = []
        self.content_types: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _hook(self, request: web.Request) -> web.Response:
        self.content_types.append(request.content_type)
        self.bodies.append(await request.read())
        return web.Response(status=self.status, text="thanks")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def test_webhook_receives_the_alert_json():
    async def body() -> None:
        async with Receiver() as rx:
            alerter = Alerter(AlertsConfig(webhook_url=rx.url, timeout_s=3.0), engine="paper-1")
            ok = alerter.alert("breaker", "okx", "venue okx halted", reason="5 rejects", n=5)
            await alerter.aclose()
        assert ok is True
        assert (alerter.sent, alerter.failed, alerter.suppressed) == (1, 0, 0)
        assert rx.content_types == ["application/json"]
        (raw,) = rx.bodies
        alert = msgspec.json.decode(raw, type=Alert)
        assert alert.kind == "breaker"
        assert alert.subject == "okx"
        assert alert.message == "venue okx halted"
        assert alert.engine == "paper-1"
        assert alert.resolved is False
        assert alert.fields == {"reason": "5 rejects", "n": 5}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", alert.ts)
        assert redact(rx.url) == REDACTED  # the URL is treated as a credential in logs

    run(body)


def test_command_gets_the_alert_json_on_stdin(tmp_path: Path):
    out = tmp_path / "alert.json"
    cmd = [sys.executable, "-c", WRITE_STDIN, str(out)]

    async def body() -> None:
        alerter = Alerter(AlertsConfig(command=cmd, timeout_s=5.0), clock=lambda: 0.0)
        assert alerter.alert("kill_switch", "", "kill switch tripped", resolved=True)
        await alerter.aclose()
        assert (alerter.sent, alerter.failed) == (1, 0)

    run(body)
    alert = msgspec.json.decode(out.read_bytes(), type=Alert)
    assert alert.kind == "kill_switch"
    assert alert.resolved is True
    assert alert.ts == "1970-01-01T00:00:00.000Z"


def test_webhook_and_command_are_two_deliveries(tmp_path: Path):
    out = tmp_path / "alert.json"
    cmd = [sys.executable, "-c", WRITE_STDIN, str(out)]

    async def body() -> None:
        async with Receiver() as rx:
            alerter = Alerter(AlertsConfig(webhook_url=rx.url, command=cmd))
            alerter.alert("shutdown", "", "stopping")
            await alerter.aclose()
        assert (alerter.sent, alerter.failed) == (2, 0)
        assert rx.bodies == [out.read_bytes()]

    run(body)


def test_cooldown_suppresses_a_repeat_per_kind_subject_and_resolved():
    now = [1000.0]
    alerter = Alerter(AlertsConfig(cooldown_s=60.0), clock=lambda: now[0])
    assert alerter.alert("stale_feed", "okx", "stale") is True
    now[0] += 59.0
    assert alerter.alert("stale_feed", "okx", "stale") is False
    assert alerter.alert("stale_feed", "binance", "stale") is True
    assert alerter.alert("stale_feed", "okx", "fresh", resolved=True) is True
    assert alerter.alert("breaker", "okx", "halted") is True
    now[0] += 1.0
    assert alerter.alert("stale_feed", "okx", "stale") is True
    assert alerter.suppressed == 1
    assert (alerter.sent, alerter.failed) == (0, 0)  # nowhere to send: logged only


def test_alert_is_logged_as_a_warning_with_its_fields(caplog):
    alerter = Alerter(AlertsConfig(), engine="e1")
    with caplog.at_level(logging.WARNING, logger="arb.alerts"):
        alerter.alert("residual_exposure", "", "residual 12.00 above 0.00", unhedged=12.0)
    (rec,) = [r for r in caplog.records if r.name == "arb.alerts"]
    assert rec.levelno == logging.WARNING
    fields: dict[str, Any] = vars(rec)
    assert fields["alert_kind"] == "residual_exposure"
    assert fields["alert_fields"] == {"unhedged": 12.0}
    assert fields["engine"] == "e1"


def test_no_running_loop_logs_but_delivers_nothing(tmp_path: Path):
    out = tmp_path / "never.json"
    cmd = [sys.executable, "-c", WRITE_STDIN, str(out)]
    alerter = Alerter(AlertsConfig(command=cmd))
    assert alerter.alert("error", "", "outside any loop") is True
    assert (alerter.sent, alerter.failed) == (0, 0)
    assert not out.exists()


def test_webhook_answering_500_counts_as_failed():
    async def body() -> None:
        async with Receiver(status=500) as rx:
            alerter = Alerter(AlertsConfig(webhook_url=rx.url, timeout_s=3.0))
            assert alerter.alert("error", "", "x") is True
            await alerter.aclose()
        assert len(rx.bodies) == 1
        assert (alerter.sent, alerter.failed) == (0, 1)

    run(body)


def test_unreachable_webhook_counts_as_failed():
    async def body() -> None:
        async with Receiver() as rx:
            url = rx.url
        alerter = Alerter(AlertsConfig(webhook_url=url, timeout_s=3.0))  # server gone
        assert alerter.alert("error", "", "x") is True
        await alerter.aclose()
        assert (alerter.sent, alerter.failed) == (0, 1)

    run(body)


@pytest.mark.parametrize(
    "cmd",
    [
        [sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit(1)"],
        [sys.executable, "-c", "import time; time.sleep(30)"],  # killed at timeout_s
        ["/nonexistent/arb-alert-hook"],
    ],
    ids=["exit-1", "timeout", "missing"],
)
def test_failing_command_counts_as_failed_and_does_not_raise(cmd: list[str]):
    async def body() -> None:
        alerter = Alerter(AlertsConfig(command=cmd, timeout_s=1.0))
        assert alerter.alert("error", "", "x") is True
        await alerter.aclose()
        assert (alerter.sent, alerter.failed) == (0, 1)

    run(body)

"""Alerts of the live engine: a rate-limited sender and a pure edge-triggered watchdog.

``Alerter.alert`` is called from the engine loop and never blocks or raises: it applies the
cool-down, logs the alert (logger ``arb.alerts``, WARNING) and schedules its delivery on the
running loop, to ``[alerts].webhook_url`` (HTTP POST of the alert JSON) and/or
``[alerts].command`` (run with the alert JSON on stdin). With no loop running, the alert is only
logged.

``Watchdog.check`` turns the engine's state into alerts on edges only (a condition that holds
is reported once, and once more as ``resolved`` when it clears).

An alert carries only what the engine passes in: nothing is read from the environment. The
webhook URL (often a credential itself) is registered with ``arb.ops.logs.register_secret``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Protocol

import aiohttp
import msgspec

from arb.config import AlertsConfig
from arb.ops.logs import register_secret

__all__ = ["Alert", "AlertSink", "Alerter", "FieldValue", "Watchdog"]

log = logging.getLogger("arb.alerts")

FieldValue = str | int | float | bool
_STDERR_TAIL = 300


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One alert, as POSTed to the webhook and written to the command's stdin."""

    ts: str
    """UTC, ISO-8601 with milliseconds and ``Z``."""
    kind: str
    """``kill_switch``, ``breaker``, ``residual_exposure``, ``stale_feed``, ``recovery``,
    ``shutdown``, ``error``, ..."""
    subject: str
    """What it is about, e.g. a venue id ("" for the whole engine)."""
    message: str
    engine: str
    resolved: bool = False
    fields: dict[str, FieldValue] = {}


class AlertSink(Protocol):
    """Anything with ``Alerter.alert``'s signature (the watchdog's output)."""

    def alert(
        self, kind: str, subject: str, message: str, *, resolved: bool = False, **fields: FieldValue
    ) -> bool: ...


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _field(value: object) -> FieldValue:
    return value if isinstance(value, str | int | float | bool) else str(value)


class Alerter:
    """Send alerts to a webhook and/or a command, at most once per cool-down.

    Parameters
    ----------
    cfg
        ``[alerts]``: destinations, ``cooldown_s``, ``timeout_s``.
    engine
        Name put in every alert.
    clock
        Seconds since the epoch (``time.time``); drives the cool-down and ``Alert.ts``.

    Attributes
    ----------
    sent, failed : int
        Deliveries that succeeded / failed; one alert with both a webhook and a command makes
        two deliveries. A webhook answering non-2xx, a command exiting non-zero, a timeout or an
        exception all count as failed.
    suppressed : int
        Alerts dropped by the cool-down (same kind, subject and ``resolved`` within
        ``cooldown_s``).
    """

    def __init__(
        self, cfg: AlertsConfig, *, engine: str = "arb", clock: Callable[[], float] = time.time
    ) -> None:
        self.cfg = cfg
        self.engine = engine
        self._clock = clock
        self.sent = 0
        self.failed = 0
        self.suppressed = 0
        self._last: dict[tuple[str, str, bool], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._encoder = msgspec.json.Encoder()
        if cfg.webhook_url:
            register_secret(cfg.webhook_url)

    def alert(
        self, kind: str, subject: str, message: str, *, resolved: bool = False, **fields: object
    ) -> bool:
        """Log and send an alert; return False if the cool-down suppressed it.

        Never blocks and never raises: delivery runs as a task on the running loop.
        """
        try:
            now = self._clock()
            key = (kind, subject, resolved)
            last = self._last.get(key)
            if last is not None and now - last < self.cfg.cooldown_s:
                self.suppressed += 1
                return False
            self._last[key] = now
            alert = Alert(
                ts=_iso(now),
                kind=kind,
                subject=subject,
                message=message,
                engine=self.engine,
                resolved=resolved,
                fields={k: _field(v) for k, v in fields.items()},
            )
            log.warning(
                "alert %s%s %s: %s",
                kind,
                " resolved" if resolved else "",
                subject,
                message,
                extra={
                    "alert_kind": kind,
                    "alert_subject": subject,
                    "alert_resolved": resolved,
                    "alert_fields": alert.fields,
                    "engine": self.engine,
                },
            )
            self._schedule(self._encoder.encode(alert))
        except Exception:
            log.exception("alert failed", extra={"alert_kind": kind})
            return False
        return True

    def _schedule(self, body: bytes) -> None:
        if not self.cfg.webhook_url and not self.cfg.command:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("alert not delivered: no event loop running")
            return
        task = loop.create_task(self._deliver(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, body: bytes) -> None:
        jobs: list[Awaitable[None]] = []
        if self.cfg.webhook_url:
            jobs.append(self._guarded("webhook", self._post(body)))
        if self.cfg.command:
            jobs.append(self._guarded("command", self._run(body)))
        await asyncio.gather(*jobs)

    async def _guarded(self, channel: str, job: Awaitable[str]) -> None:
        # ``job`` returns "" on success, else why it failed.
        try:
            why = await job
        except Exception as e:
            why = type(e).__name__
        if why:
            self.failed += 1
            log.warning("alert delivery failed", extra={"channel": channel, "reason": why})
        else:
            self.sent += 1

    async def _post(self, body: bytes) -> str:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout_s)
        headers = {"Content-Type": "application/json"}
        async with self._session.post(
            self.cfg.webhook_url, data=body, headers=headers, timeout=timeout
        ) as resp:
            if 200 <= resp.status < 300:
                return ""
            return f"HTTP {resp.status}"

    async def _run(self, body: bytes) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self.cfg.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(body), self.cfg.timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return f"timed out after {self.cfg.timeout_s} s"
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if proc.returncode != 0:
            tail = err[-_STDERR_TAIL:].decode(errors="replace").strip()
            return f"exit {proc.returncode}: {tail}" if tail else f"exit {proc.returncode}"
        return ""

    async def aclose(self) -> None:
        """Wait (at most ``timeout_s`` plus a little) for deliveries in flight, then close."""
        pending = set(self._tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.cfg.timeout_s + 1.0)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class Watchdog:
    """Edge-triggered alert conditions over the engine's state (pure: time is an argument).

    Parameters
    ----------
    cfg
        ``[alerts]``: ``stale_feed_ms`` (0 or less: no stale-feed alerts) and
        ``unhedged_alert_usd``.
    sink
        Where alerts go (an ``Alerter``, or a fake in tests).

    Conditions, each reported when it starts and again with ``resolved=True`` when it ends:

    - ``kill_switch`` (subject ""): ``kill_reason`` became non-empty;
    - ``breaker`` (subject: venue): the venue became halted;
    - ``residual_exposure`` (subject ""): ``unhedged > unhedged_alert_usd`` with no open trade
      (exposure left once trades finished); resolved when ``unhedged <= unhedged_alert_usd``;
      while trades are open a high exposure is neither reported nor resolved;
    - ``stale_feed`` (subject: venue): no message for more than ``stale_feed_ms``; a venue
      absent from ``feed_last_ns`` keeps its state.
    """

    def __init__(self, cfg: AlertsConfig, sink: AlertSink) -> None:
        self.cfg = cfg
        self.sink = sink
        self._kill = ""
        self._halted: set[str] = set()
        self._residual = False
        self._stale: set[str] = set()

    def check(
        self,
        now_ns: int,
        *,
        kill_reason: str,
        halted_venues: Iterable[str],
        breaker_reasons: Mapping[str, str] | None = None,
        unhedged: float,
        open_trades: int,
        feed_last_ns: Mapping[str, int],
    ) -> list[str]:
        """Send the alerts of the conditions that changed; return their kinds, in order.

        A kind is listed once per alert sent to the sink (firing or resolved), whether or not
        the sink's cool-down then suppressed it.
        """
        fired: list[str] = []
        self._check_kill(kill_reason, fired)
        self._check_breakers(set(halted_venues), breaker_reasons or {}, fired)
        self._check_residual(unhedged, open_trades, fired)
        self._check_feeds(now_ns, feed_last_ns, fired)
        return fired

    def _send(self, fired: list[str], kind: str, subject: str, message: str, **kw: object) -> None:
        resolved = bool(kw.pop("resolved", False))
        fields = {k: _field(v) for k, v in kw.items()}
        self.sink.alert(kind, subject, message, resolved=resolved, **fields)
        fired.append(kind)

    def _check_kill(self, reason: str, fired: list[str]) -> None:
        if reason and not self._kill:
            self._send(fired, "kill_switch", "", f"kill switch tripped: {reason}", reason=reason)
        elif not reason and self._kill:
            self._send(fired, "kill_switch", "", "kill switch cleared", resolved=True)
        self._kill = reason

    def _check_breakers(
        self, halted: set[str], reasons: Mapping[str, str], fired: list[str]
    ) -> None:
        for venue in sorted(halted - self._halted):
            why = reasons.get(venue, "")
            text = f"venue {venue} halted" + (f": {why}" if why else "")
            self._send(fired, "breaker", venue, text, reason=why)
        for venue in sorted(self._halted - halted):
            self._send(fired, "breaker", venue, f"venue {venue} resumed", resolved=True)
        self._halted = halted

    def _check_residual(self, unhedged: float, open_trades: int, fired: list[str]) -> None:
        limit = self.cfg.unhedged_alert_usd
        if not self._residual and unhedged > limit and open_trades == 0:
            self._residual = True
            text = f"residual exposure {unhedged:.2f} above {limit:.2f} with no open trade"
            self._send(fired, "residual_exposure", "", text, unhedged=unhedged, threshold=limit)
        elif self._residual and unhedged <= limit:
            self._residual = False
            text = f"residual exposure {unhedged:.2f} back within {limit:.2f}"
            self._send(fired, "residual_exposure", "", text, resolved=True, unhedged=unhedged)

    def _check_feeds(self, now_ns: int, last: Mapping[str, int], fired: list[str]) -> None:
        limit_ms = self.cfg.stale_feed_ms
        if limit_ms <= 0:
            return
        for venue in sorted(last):
            age_ns = now_ns - last[venue]
            age_ms = age_ns / 1e6
            stale = age_ns > limit_ms * 1_000_000
            if stale and venue not in self._stale:
                self._stale.add(venue)
                text = f"no message from {venue} for {age_ms:.0f} ms"
                self._send(fired, "stale_feed", venue, text, age_ms=round(age_ms))
            elif not stale and venue in self._stale:
                self._stale.discard(venue)
                self._send(fired, "stale_feed", venue, f"{venue} feed fresh again", resolved=True)
